package config

// Key ties one environment variable to its YAML path, default and meaning.
type Key struct {
	Env     string
	Path    string
	Default any
	Help    string
}

// Keys is the explicit table of every configuration key. The example file in
// configs/ is checked against it by a test.
var Keys = []Key{
	{"MINIMALL_ENV", "env", EnvDevelopment, "development or production; production refuses development defaults, sandbox URLs and keys, demo data and missing payment keys"},
	{"MINIMALL_HTTP_ADDR", "http.addr", "127.0.0.1:8080", "listen address"},
	{"MINIMALL_PUBLIC_BASE_URL", "http.public_base_url", "", "how the platforms reach us; notify URLs are built from it (empty: http:// + http.addr)"},
	{"MINIMALL_TRUSTED_PROXIES", "http.trusted_proxies", "", "comma-separated IPs or CIDRs whose X-Forwarded-For is believed"},
	{"MINIMALL_HTTP_MAX_BODY", "http.max_body", "1MiB", "request body limit"},
	{"MINIMALL_CORS_ORIGINS", "http.cors_origins", "", "comma-separated origins allowed to call the admin API from a browser"},
	{"MINIMALL_API_DOCS", "http.api_docs", "", "serve the API reference at /docs: true or false (empty: on in development and demo mode, off in production)"},
	{"MINIMALL_DB_DRIVER", "db.driver", DriverSQLite, "sqlite or mysql"},
	{"MINIMALL_DB_DSN", "db.dsn", "data/minimall.db", "SQLite file path, or a go-sql-driver MySQL DSN"},
	{"MINIMALL_DB_TIMEOUT", "db.timeout", "5s", "longest wait for one statement outside a transaction or one whole transaction of the server (connection wait included); past it the request answers 503 unavailable"},
	{"MINIMALL_DB_REPLICA_DSNS", "db.replica_dsns", "", "comma-separated MySQL read replica DSNs for catalog loads, public product and review reads and staff lists (docs/scaling.md); empty: every read on the primary"},
	{"MINIMALL_DB_REPLICA_MAX_LAG", "db.replica_max_lag", "2s", "a replica further behind than this (SHOW REPLICA STATUS, checked every 500ms) or down is skipped until it catches up"},
	{"MINIMALL_JWT_SECRET", "jwt.secret", DevJWTSecret, "HMAC secret for access tokens, at least 32 bytes"},
	{"MINIMALL_STAFF_TOTP_KEY", "staff.totp_key", "", "32-byte key (standard base64 or hex) sealing staff second-factor secrets at rest (AES-256-GCM); empty: derived from jwt.secret with HKDF-SHA256, so changing the JWT secret then makes every second factor unusable (docs/identity.md)"},
	{"MINIMALL_ORDER_PAY_TIMEOUT", "order.pay_timeout", "30m", "payment deadline of a new order"},
	{"MINIMALL_ORDER_AUTO_CONFIRM", "order.auto_confirm", "240h", "a shipped order completes by itself after this long"},
	{"MINIMALL_ORDER_AUTO_CONFIRM_AFTER_DELIVERY", "order.auto_confirm_after_delivery", "168h", "a delivered order (every parcel signed) completes by itself after this long, or after order.auto_confirm from shipping, whichever comes first"},
	{"MINIMALL_ORDER_MAX_UNPAID", "order.max_unpaid", 5, "unpaid orders one customer may hold at once; checkout refuses the next with 409 limit_exceeded"},
	{"MINIMALL_ORDER_CHECKOUT_PER_MINUTE", "order.checkout_per_minute", 10, "checkouts a customer may place a minute (bursts of the same size); over it: 429 rate_limited"},
	{"MINIMALL_ORDER_PAY_PER_MINUTE", "order.pay_per_minute", 20, "pay requests a customer may send a minute (bursts of the same size); over it: 429 rate_limited"},
	{"MINIMALL_AFTERSALE_WINDOW", "aftersale.window", "168h", "after-sale requests accepted this long after an order completes"},
	{"MINIMALL_AFTERSALE_AUTO_APPROVE", "aftersale.auto_approve", "48h", "a refund-only request on an unshipped order is approved when staff leave it this long (others are reminded)"},
	{"MINIMALL_AFTERSALE_RETURN_WINDOW", "aftersale.return_window", "168h", "an approved return is cancelled when no return parcel is posted within this"},
	{"MINIMALL_FREIGHT_FEN", "order.freight_fen", 1000, "flat freight in fen"},
	{"MINIMALL_FREE_FREIGHT_OVER_FEN", "order.free_freight_over_fen", 9900, "goods total (fen) from which freight is free; 0 disables"},
	{"MINIMALL_WECHAT_APPID", "wechat.appid", "", "mini-program AppID"},
	{"MINIMALL_WECHAT_SECRET", "wechat.secret", "", "mini-program AppSecret"},
	{"MINIMALL_WECHAT_API_BASE", "wechat.api_base", "https://api.weixin.qq.com", "WeChat API scheme and host"},
	{"MINIMALL_WECHAT_PUSH_TOKEN", "wechat.push_token", "", "mini-program message push Token (console: 消息推送); empty: the push endpoint refuses every request"},
	{"MINIMALL_WECHAT_PUSH_AES_KEY", "wechat.push_aes_key", "", "message push EncodingAESKey (43 characters) for safe mode; empty: plaintext mode"},
	{"MINIMALL_WECHATPAY_MCHID", "wechatpay.mchid", "", "WeChat Pay merchant id"},
	{"MINIMALL_WECHATPAY_SERIAL", "wechatpay.serial", "", "serial number of the merchant API certificate"},
	{"MINIMALL_WECHATPAY_PRIVATE_KEY_FILE", "wechatpay.private_key_file", "", "merchant private key apiclient_key.pem (PKCS#8 PEM)"},
	{"MINIMALL_WECHATPAY_APIV3_KEY", "wechatpay.apiv3_key", "", "32-byte APIv3 key that encrypts notifications"},
	{"MINIMALL_WECHATPAY_PUBLIC_KEY_ID", "wechatpay.public_key_id", "", "WeChat Pay public key id (PUB_KEY_ID_...)"},
	{"MINIMALL_WECHATPAY_PUBLIC_KEY_FILE", "wechatpay.public_key_file", "", "WeChat Pay public key (PUBLIC KEY PEM)"},
	{"MINIMALL_WECHATPAY_API_BASE", "wechatpay.api_base", "https://api.mch.weixin.qq.com", "WeChat Pay API scheme and host"},
	{"MINIMALL_ALIPAY_APPID", "alipay.appid", "", "Alipay mini-program app_id"},
	{"MINIMALL_ALIPAY_PRIVATE_KEY_FILE", "alipay.private_key_file", "", "application private key (PEM or the console's bare base64)"},
	{"MINIMALL_ALIPAY_PUBLIC_KEY_FILE", "alipay.public_key_file", "", "Alipay public key (PEM or bare base64); public-key mode"},
	{"MINIMALL_ALIPAY_APP_CERT_FILE", "alipay.app_cert_file", "", "certificate mode: the app's public-key certificate appCertPublicKey_<appid>.crt (set all three certificate files instead of the public key)"},
	{"MINIMALL_ALIPAY_ROOT_CERT_FILE", "alipay.root_cert_file", "", "certificate mode: Alipay's root certificate alipayRootCert.crt"},
	{"MINIMALL_ALIPAY_PUBLIC_CERT_FILE", "alipay.public_cert_file", "", "certificate mode: Alipay's public-key certificate alipayCertPublicKey_RSA2.crt"},
	{"MINIMALL_ALIPAY_GATEWAY", "alipay.gateway", "https://openapi.alipay.com/gateway.do", "Alipay gateway URL"},
	{"MINIMALL_ALIPAY_SELLER_ID", "alipay.seller_id", "", "seller id checked on notifications when set"},
	{"MINIMALL_COURIER_API_BASE", "courier.api_base", "https://poll.kuaidi100.com", "courier tracking API base URL"},
	{"MINIMALL_COURIER_KEY", "courier.key", "", "courier API key"},
	{"MINIMALL_COURIER_CUSTOMER", "courier.customer", "", "courier API customer id"},
	{"MINIMALL_COURIER_SALT", "courier.salt", "", "salt that signs courier tracking pushes"},
	{"MINIMALL_SANDBOX_ADDR", "sandbox.addr", "127.0.0.1:8090", "listen address of the sandbox in demo mode"},
	{"MINIMALL_PAYMENT_RECONCILE_AFTER", "payment.reconcile_after", "60s", "query a payment attempt still pending this long after prepay"},
	{"MINIMALL_PAYMENT_PLATFORM_TIMEOUT", "payment.platform_timeout", "10s", "longest wait for one WeChat Pay or Alipay call; a call cut there answers 503 upstream_unavailable"},
	{"MINIMALL_REVIEW_WINDOW", "review.window", "720h", "order lines may be reviewed and followed up this long after the order completes"},
	{"MINIMALL_REVIEW_AUTO_PUBLISH_ALIPAY", "review.auto_publish_alipay", false, "publish Alipay customers' reviews without staff moderation (WeChat's content checks do not cover them)"},
	{"MINIMALL_UPLOAD_MAX_BYTES", "upload.max_bytes", "5MiB", "largest image upload"},
	{"MINIMALL_UPLOAD_DAILY_LIMIT", "upload.daily_limit", 100, "images one customer may upload per Beijing day; over it 429 with Retry-After"},
	{"MINIMALL_MEDIA_DIR", "media.dir", "data/media", "directory of uploaded images, served under /media/ (when no S3 endpoint is set)"},
	{"MINIMALL_MEDIA_PUBLIC_BASE_URL", "media.public_base_url", "", "where images are served from, e.g. a CDN in front of the bucket (empty: the public base URL + /media)"},
	{"MINIMALL_MEDIA_S3_ENDPOINT", "media.s3_endpoint", "", "S3-compatible object store URL (Aliyun OSS, Tencent COS, MinIO); set to store images there instead of media.dir"},
	{"MINIMALL_MEDIA_S3_BUCKET", "media.s3_bucket", "", "bucket of the images"},
	{"MINIMALL_MEDIA_S3_REGION", "media.s3_region", "", "region of the bucket, when the store needs it"},
	{"MINIMALL_MEDIA_S3_ACCESS_KEY", "media.s3_access_key", "", "access key id of the object store"},
	{"MINIMALL_MEDIA_S3_SECRET_KEY_FILE", "media.s3_secret_key_file", "", "file holding the object store's secret key"},
	{"MINIMALL_MEDIA_S3_PATH_STYLE", "media.s3_path_style", false, "address the bucket in the URL path (MinIO) instead of the host name (OSS, COS)"},
	{"MINIMALL_MEDIA_ALLOWED_HOSTS", "media.allowed_hosts", "", "comma-separated hosts whose image URLs staff may use on products besides the shop's own uploads"},
	{"MINIMALL_CATALOG_CACHE_TTL", "catalog.cache_ttl", "5m", "safety TTL of a cached product or list page that hears of no change"},
	{"MINIMALL_CATALOG_STOCK_LAG", "catalog.stock_lag", "2s", "how late stock and sales may show on a cached product page; every page's life while changes from other instances may be missed"},
	{"MINIMALL_CATALOG_LIST_TTL", "catalog.list_ttl", "30s", "refresh schedule of cached list pages (sales figures and the sales order)"},
	{"MINIMALL_CATALOG_CACHE_MAX_BYTES", "catalog.cache_max_bytes", "256MiB", "byte budget of the cached product and list pages"},
	{"MINIMALL_CART_CACHE_ENTRIES", "cart.cache_entries", 100000, "customers' carts kept in memory, each for at most catalog.stock_lag and only until its customer changes it (on any instance, through Redis); 0: every cart read joins the tables"},
	{"MINIMALL_SHOP_TIME_ZONE", "shop.time_zone", "Asia/Shanghai", "IANA time zone of the shop's calendar: the dashboard's days and the audit log's date filters"},
	{"MINIMALL_DASHBOARD_LOW_STOCK", "dashboard.low_stock", 10, "a live SKU with stock at or under this is listed as low on the dashboard"},
	{"MINIMALL_REDIS_ADDR", "redis.addr", "", "optional Redis host:port that instances share: login, checkout and pay rate limits, the WeChat access token, read-cache invalidation, cart versions; while it does not answer each instance falls back to its own state"},
	{"MINIMALL_REDIS_PREFIX", "redis.prefix", "minimall:", "start of every Redis key and channel, so several shops (or test runs) can share one Redis"},
	{"MINIMALL_METRICS_ADDR", "metrics.addr", "", "host:port of a listener of its own for /metrics (then not on the public port); empty: /metrics on the public port, which production refuses unless metrics.public"},
	{"MINIMALL_METRICS_PUBLIC", "metrics.public", false, "serve /metrics on the public port in production too (when metrics.addr is empty)"},
	{"MINIMALL_DEBUG_ADDR", "debug.addr", "", "loopback host:port of the Go profiler (pprof) listener; empty: no listener"},
	{"MINIMALL_BOOTSTRAP_OWNER", "bootstrap.owner", "", "username of the first staff owner, created on an empty database"},
	{"MINIMALL_BOOTSTRAP_OWNER_PASSWORD_FILE", "bootstrap.owner_password_file", "", "file holding that owner's password"},
}

var keyByPath = func() map[string]Key {
	m := make(map[string]Key, len(Keys))
	for _, k := range Keys {
		m[k.Path] = k
	}
	return m
}()

func defaults() map[string]any {
	m := make(map[string]any, len(Keys))
	for _, k := range Keys {
		m[k.Path] = k.Default
	}
	return m
}

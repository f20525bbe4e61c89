package wechatpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"

	"github.com/minimall/minimall/internal/apperr"
)

// Notification headers and the probe marker WeChat Pay uses to test that a
// merchant really verifies signatures.
const (
	HeaderTimestamp      = "Wechatpay-Timestamp"
	HeaderNonce          = "Wechatpay-Nonce"
	HeaderSignature      = "Wechatpay-Signature"
	HeaderSerial         = "Wechatpay-Serial"
	HeaderSignatureType  = "Wechatpay-Signature-Type"
	ProbeSignaturePrefix = "WECHATPAY/SIGNTEST/"
	signatureType        = "WECHATPAY2-SHA256-RSA2048"
	aeadAlgorithm        = "AEAD_AES_256_GCM"
	// maxSkewSeconds is how far a notification's timestamp may be from now.
	maxSkewSeconds = 5 * 60
)

// Notification is a payment notification whose signature verified and whose
// resource decrypted with the APIv3 key.
type Notification struct {
	ID           string
	EventType    string
	ResourceType string
	Summary      string
	// Plaintext is the decrypted resource, stored as received.
	Plaintext string
	// Transaction is the decrypted resource read as a transaction.
	Transaction Transaction
}

// NotifyError is a refused notification: Code is the kind of refusal
// (invalid_argument for malformed input, unauthenticated for a signature,
// probe or stale timestamp, payload_too_large, internal for a signed
// resource our APIv3 key cannot decrypt) and Reason a short machine-readable
// cause (malformed, probe, stale, signature, decrypt, payload_too_large).
type NotifyError struct {
	Code   apperr.Code
	Reason string
	Err    error
}

// Error tells the reason and the cause.
func (e *NotifyError) Error() string {
	return fmt.Sprintf("wechatpay notification refused (%s): %v", e.Reason, e.Err)
}

// Unwrap exposes the cause.
func (e *NotifyError) Unwrap() error { return e.Err }

func refuse(code apperr.Code, reason string, format string, args ...any) *NotifyError {
	return &NotifyError{Code: code, Reason: reason, Err: fmt.Errorf(format, args...)}
}

// envelope is the notification body with every field the SDK relies on
// optional, so its shape can be checked before the SDK sees it.
type envelope struct {
	ID           *string `json:"id"`
	CreateTime   *string `json:"create_time"`
	EventType    *string `json:"event_type"`
	ResourceType string  `json:"resource_type"`
	Summary      string  `json:"summary"`
	Resource     *struct {
		Algorithm      *string `json:"algorithm"`
		Ciphertext     *string `json:"ciphertext"`
		AssociatedData *string `json:"associated_data"`
		Nonce          *string `json:"nonce"`
		OriginalType   string  `json:"original_type"`
	} `json:"resource"`
}

// checkShape refuses bodies the SDK cannot handle safely: v0.2.21
// dereferences a nil resource of a correctly signed body.
func checkShape(body []byte) (envelope, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&env); err != nil {
		return env, refuse(apperr.CodeInvalid, "malformed", "body is not a JSON object: %v", err)
	}
	if dec.More() {
		return env, refuse(apperr.CodeInvalid, "malformed", "body holds more than one JSON value")
	}
	switch {
	case env.ID == nil || *env.ID == "":
		return env, refuse(apperr.CodeInvalid, "malformed", "id is missing")
	case env.EventType == nil || *env.EventType == "":
		return env, refuse(apperr.CodeInvalid, "malformed", "event_type is missing")
	case env.CreateTime == nil:
		return env, refuse(apperr.CodeInvalid, "malformed", "create_time is missing")
	case env.Resource == nil:
		return env, refuse(apperr.CodeInvalid, "malformed", "resource is missing")
	case env.Resource.Algorithm == nil || *env.Resource.Algorithm != aeadAlgorithm:
		return env, refuse(apperr.CodeInvalid, "malformed", "resource.algorithm must be %s", aeadAlgorithm)
	case env.Resource.Ciphertext == nil || *env.Resource.Ciphertext == "":
		return env, refuse(apperr.CodeInvalid, "malformed", "resource.ciphertext is missing")
	case env.Resource.Nonce == nil || *env.Resource.Nonce == "":
		return env, refuse(apperr.CodeInvalid, "malformed", "resource.nonce is missing")
	case env.Resource.AssociatedData == nil:
		return env, refuse(apperr.CodeInvalid, "malformed", "resource.associated_data is missing")
	}
	if _, err := time.Parse(time.RFC3339, *env.CreateTime); err != nil {
		return env, refuse(apperr.CodeInvalid, "malformed", "create_time is not RFC 3339")
	}
	return env, nil
}

// checkHeaders refuses probes, missing headers and stale timestamps before
// the signature is checked (the SDK also checks freshness, against the real
// clock).
func (c *Client) checkHeaders(h http.Header) error {
	sig := strings.TrimSpace(h.Get(HeaderSignature))
	switch {
	case sig == "":
		return refuse(apperr.CodeUnauthenticated, "signature", "%s is missing", HeaderSignature)
	case strings.HasPrefix(sig, ProbeSignaturePrefix):
		return refuse(apperr.CodeUnauthenticated, "probe", "a signature probe is never accepted")
	case strings.TrimSpace(h.Get(HeaderNonce)) == "":
		return refuse(apperr.CodeUnauthenticated, "signature", "%s is missing", HeaderNonce)
	}
	if t := h.Get(HeaderSignatureType); t != "" && t != signatureType {
		return refuse(apperr.CodeUnauthenticated, "signature", "unsupported signature type %q", t)
	}
	if s := strings.TrimSpace(h.Get(HeaderSerial)); s != c.cfg.PublicKeyID {
		return refuse(apperr.CodeUnauthenticated, "signature", "signed with key %q, not the configured public key", s)
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(h.Get(HeaderTimestamp)), 10, 64)
	if err != nil {
		return refuse(apperr.CodeUnauthenticated, "stale", "%s is missing or not a number", HeaderTimestamp)
	}
	if d := nowUnix() - ts; d >= maxSkewSeconds || d <= -maxSkewSeconds {
		return refuse(apperr.CodeUnauthenticated, "stale", "timestamp %d is %d seconds away from now", ts, d)
	}
	return nil
}

// ParseNotification reads a payment notification from r (at most maxBody
// bytes), checks its shape and headers, verifies its signature with WeChat
// Pay's public key and decrypts its resource, through the SDK's own notify
// handler. Every refusal is a *NotifyError; none of them is a 5xx except a
// correctly signed resource that the APIv3 key cannot decrypt (the key is
// misconfigured: the platform should retry once it is fixed).
func (c *Client) ParseNotification(ctx context.Context, r *http.Request, maxBody int64) (Notification, error) {
	var tx payments.Transaction
	env, plain, err := c.parseNotify(ctx, r, maxBody, &tx)
	if err != nil {
		return Notification{}, err
	}
	return Notification{
		ID: *env.ID, EventType: *env.EventType, ResourceType: env.ResourceType, Summary: env.Summary,
		Plaintext: plain, Transaction: transactionOf(&tx),
	}, nil
}

// parseNotify is the verification every notification goes through: body
// limit, shape, headers, signature and decryption into content.
func (c *Client) parseNotify(ctx context.Context, r *http.Request, maxBody int64, content any) (envelope, string, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return envelope{}, "", refuse(apperr.CodePayloadTooLarge, "payload_too_large", "body over the limit")
		}
		return envelope{}, "", refuse(apperr.CodeInvalid, "malformed", "read body: %v", err)
	}
	if int64(len(body)) > maxBody {
		return envelope{}, "", refuse(apperr.CodePayloadTooLarge, "payload_too_large", "body over %d bytes", maxBody)
	}
	env, err := checkShape(body)
	if err != nil {
		return env, "", err
	}
	if err := c.checkHeaders(r.Header); err != nil {
		return env, "", err
	}
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(body))
	parsed, err := c.notify.ParseNotifyRequest(ctx, req, content)
	if err != nil {
		if parsed == nil {
			return env, "", refuse(apperr.CodeUnauthenticated, "signature", "%v", trimErr(err))
		}
		if parsed.Resource != nil && parsed.Resource.Plaintext != "" {
			return env, "", refuse(apperr.CodeInvalid, "malformed", "decrypted resource is not what its event says: %v", err)
		}
		return env, "", refuse(apperr.CodeInternal, "decrypt",
			"a correctly signed resource did not decrypt (check MINIMALL_WECHATPAY_APIV3_KEY): %v", err)
	}
	return env, parsed.Resource.Plaintext, nil
}

// trimErr keeps the SDK's message short: it prints the whole request.
func trimErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, ", request: "); i > 0 {
		s = s[:i]
	}
	return trimBody([]byte(s))
}

import type zh from "./zh";

// English. Same keys as zh.ts (test/i18n.test.ts checks).
const en: typeof zh = {
  app: { name: "minimall console" },
  common: {
    loading: "Loading…", empty: "Nothing here yet", retry: "Retry", search: "Search", reset: "Reset", save: "Save", cancel: "Cancel",
    confirm: "OK", actions: "Actions", edit: "Edit", view: "View", create: "Create", delete: "Delete", add: "Add", back: "Back",
    saved: "Saved", created: "Created", deleted: "Deleted", from: "From", to: "To", notFound: "Page not found", days: "{n} days",
  },
  error: { requestId: "Request ID", network: "Cannot reach the server; check the network and retry" },
  login: {
    username: "Username", password: "Password", submit: "Log in", logout: "Log out",
    expired: "Your session has ended; please log in again", retryAfter: "Try again in {n} s",
  },
  role: { owner: "Owner", operator: "Operator", customer_service: "Customer service", warehouse: "Warehouse", undefined: "" },
  nav: {
    overview: "Overview", catalog: "Catalog", trade: "Trade", admin: "Admin",
    dashboard: "Dashboard", categories: "Categories", products: "Products", orders: "Orders", aftersales: "After-sales",
    reviews: "Reviews", anomalies: "Payment anomalies", staff: "Staff", audit: "Audit log", security: "Security",
  },
  dashboard: {
    todayOrders: "Orders today", todayGmv: "GMV today", todayPaid: "Paid orders today",
    toShip: "To ship", openAftersales: "Open after-sales", lowStock: "Low-stock SKUs", trend: "Orders and GMV, last {n} days",
    orders: "Orders", gmv: "GMV (yuan)", top: "Top 10 products by units, last {n} days", units: "Units", product: "Product", lowStockList: "Low stock",
  },
  audit: {
    actionHint: "Action, e.g. stock.adjust", staff: "Staff", action: "Action", target: "Target", time: "Time", detail: "Detail", ip: "IP",
  },
  category: {
    addRoot: "New top category", addChild: "Add child", create: "New category", edit: "Edit category", name: "Name", sort: "Sort",
    visible: "Visible", hidden: "Hidden", parent: "Parent", root: "(top level)", confirmDelete: "Delete category “{name}”?",
  },
  product: {
    new: "New product", edit: "Edit product", search: "Search titles", category: "Category", shelfState: "Shelf", onShelf: "On shelf",
    offShelf: "Off shelf", putOn: "Put on shelf", putOff: "Take off shelf", onShelfDone: "On shelf", offShelfDone: "Off shelf", title: "Title",
    subtitle: "Subtitle", description: "Description", minPrice: "From", sales: "Sales", basics: "Basics", images: "Images",
    upload: "Upload image", uploaded: "Image uploaded", imageURL: "or paste an image URL", imagesHint: "Up to 9; the first is the main image; JPEG, PNG or WebP up to 5 MB",
    onShelfNow: "On shelf now", needCategory: "Choose a category", needTitle: "Enter a title",
  },
  sku: {
    specs: "Specs", addDimension: "Add spec", dimensionName: "Spec name, e.g. Colour", dimensionValues: "Values, comma-separated, e.g. Red,Blue",
    matrix: "SKUs ({n})", code: "SKU code", price: "Price (yuan)", originalPrice: "List price (yuan)", stock: "Stock", weight: "Weight (g)",
    none: "At least one SKU is needed", badPrice: "The price of “{sku}” is not a valid amount (up to two decimals, above 0)",
    badOriginalPrice: "The list price of “{sku}” is not a valid amount", badCode: "The code of “{sku}” may hold letters, digits, dot, underscore and dash only",
    tooManyDimensions: "At most {max} specs", emptyDimension: "A spec has no name", duplicateDimension: "Spec “{name}” is repeated",
    noValues: "Spec “{name}” has no values", emptyValue: "Spec “{name}” has an empty value", duplicateValue: "Spec “{name}” repeats “{value}”",
    tooManySkus: "{rows} combinations; at most {max} SKUs",
  },
  stock: {
    adjust: "Adjust", title: "Adjust stock", current: "Current stock", mode: "How", byDelta: "Add or remove", bySet: "Set to", delta: "Change",
    expected: "Should now be", newValue: "New stock", reason: "Reason", done: "Stock is now {stock}",
    conflictSet: "Stock changed meanwhile: you expected {expected}, it is {stock}. The form now uses {stock}; check and submit again.",
    conflictDelta: "Not enough stock to remove: it is {stock}.",
  },
  order: {
    detail: "Order", no: "Order number", status: "Status", createdAt: "Created", paidAt: "Paid", shippedAt: "Shipped",
    completedAt: "Completed", customer: "Customer", customerId: "Customer ID", items: "Items", goods: "Goods", freight: "Freight",
    total: "Total", paid: "Paid", refunded: "Refunded", receiver: "Receiver", phone: "Phone", address: "Address", remark: "Remark",
    parcels: "Parcels", noParcels: "Not shipped yet", export: "Export CSV", shippingUpload: "WeChat shipping info", retryUpload: "Upload again",
    uploadRequeued: "Queued for upload again", attempts: "Payment attempts", channel: "Channel", outTradeNo: "Out trade no.", amount: "Amount",
    txnId: "Platform transaction", refunds: "Refunds and after-sales", events: "History", quantity: "Qty", subtotal: "Subtotal", refundedQty: "Refunded qty",
  },
  orderStatus: { pending_payment: "Awaiting payment", paid: "To ship", shipped: "Shipped", completed: "Completed", cancelled: "Cancelled", closed: "Closed" },
  upload: { pending: "Pending", uploaded: "Uploaded", failed: "Failed", not_required: "Not required" },
  attempt: { pending: "Pending", succeeded: "Paid", closed: "Closed", failed: "Failed" },
  channel: { wechat: "WeChat", alipay: "Alipay" },
  actor: { customer: "Customer", staff: "Staff", system: "System", payment: "Payment", platform: "Platform" },
  carrier: { SF: "SF Express", ZTO: "ZTO", YTO: "YTO", YD: "Yunda", STO: "STO", JT: "J&T", JD: "JD Logistics", EMS: "EMS" },
  tracking: {
    none: "No tracking yet", collected: "Collected", in_transit: "In transit", out_for_delivery: "Out for delivery", signed: "Signed",
    problem: "Problem", returning: "Returning", returned: "Returned",
  },
  ship: {
    action: "Ship", title: "Ship order", carrier: "Carrier", trackingNo: "Tracking number", trackingState: "Tracking", parcel: "Parcel {n}",
    addParcel: "Split into parcels", needCarrier: "Choose a carrier", badTracking: "Tracking numbers are 6–32 letters, digits or dashes",
    emptyParcel: "Every parcel needs at least one line", lineMissing: "Every line must be in a parcel", done: "Shipped", correct: "Correct parcel",
    eventTime: "Time", eventLocation: "Location", eventDescription: "Details",
    trackingStale: "The courier could not be asked about every parcel of this order just now: the events shown are the last stored.",
  },
  refund: {
    action: "Refund", title: "Merchant refund", scope: "Scope", whole: "Whole order", lines: "Chosen lines", reason: "Reason", description: "Note",
    needLines: "Choose lines and quantities to refund", created: "Refund requested",
  },
  refundReason: { goodwill: "Goodwill", out_of_stock: "Out of stock", price_error: "Price error", other: "Other" },
  aftersale: {
    detail: "After-sale", id: "Request", type: "Type", status: "Status", initiator: "Opened by", reason: "Reason", description: "Description",
    refund: "Refund", computed: "Computed refund", refundYuan: "Refund (yuan)", share: "Share", outRefundNo: "Refund number",
    refundStatus: "Refund status", refundDetail: "Detail", refundedAt: "Refunded at", decision: "Decision note", returnParcel: "Return parcel",
    approve: "Approve", reject: "Reject", receive: "Receive return", acceptReturn: "Goods received in order", refuseReturn: "Refuse the return",
    shipReplacement: "Ship replacement", approved: "Approved", rejected: "Rejected", badAmount: "Not a valid amount (up to two decimals, above 0)",
    amountTooHigh: "The refund cannot exceed the computed ¥{max}", needLowerReason: "Give a reason when lowering the refund",
    lowerHint: "Computed ¥{max}; you may lower it with a reason",
  },
  aftersaleStatus: {
    requested: "Requested", approved: "Approved", rejected: "Rejected", awaiting_return: "Awaiting return", returned: "Returned",
    refunding: "Refunding", refunded: "Refunded", completed: "Completed", cancelled: "Cancelled",
  },
  aftersaleType: { refund_only: "Refund only", return_refund: "Return and refund", exchange: "Exchange" },
  initiator: { customer: "Customer", merchant: "Merchant" },
  review: {
    state: "State", rating: "Rating", stars: "{n} stars", images: "Images", withImages: "With images", withoutImages: "Without images", productId: "Product ID",
    product: "Product", content: "Content", anonymous: "Anonymous", followUp: "Follow-up", reply: "Reply", publish: "Publish", hide: "Hide",
    published: "Published", hidden: "Hidden", replied: "Reply saved",
  },
  reviewState: { pending: "Pending", published: "Published", hidden: "Hidden" },
  holdReason: {
    text_review: "Text held for review", image_review: "Image held for review", image_risky: "Risky image", channel_moderation: "Platform moderation",
    check_failed: "Content check failed", text_risky: "Risky text",
  },
  anomaly: {
    status: "Status", open: "Open", resolved: "Resolved", kind: "Kind", amounts: "Expected / actual", detail: "Detail", refunds: "Refunds",
    resolve: "Resolve", refund: "Refund again", note: "What was done", none: "No payment anomalies", resolvedDone: "Marked resolved",
    refundRequested: "Refund requested",
  },
  anomalyKind: {
    unknown_trade: "Unknown trade", merchant_mismatch: "Merchant mismatch", amount_mismatch: "Amount mismatch", transaction_mismatch: "Transaction mismatch",
    late_payment: "Paid after cancel", double_payment: "Paid twice", unknown_refund: "Unknown refund",
  },
  totp: {
    title: "Two-step verification", on: "On", off: "Off", why: "Logging in asks for the six-digit code of an authenticator app as well as the password",
    enrol: "Turn on two-step verification", scan: "Scan the QR code or add this key in an authenticator app (Google Authenticator, Microsoft Authenticator, 1Password, ...), then type the six-digit code it shows:", qrAlt: "Two-step verification QR code",
    code: "Six-digit code", activate: "Verify and turn on", activated: "Two-step verification is on", recoveryCode: "Recovery code", useRecovery: "No phone at hand? Use a recovery code",
    useCode: "Use the app's code", codeNeeded: "This account uses two-step verification: type the code from your authenticator app", recoveryOnce: "These recovery codes are shown only now; each logs in once instead of a code. Keep them safe",
    saveCodes: "Download the codes", loginAgain: "Log in again", codesLeft: "{n} recovery codes left", recoveryLeft: "Logged in with a recovery code; {n} left",
    enrolRequired: "This shop requires two-step verification of every staff account: set it up, then log in again", shopTitle: "Shop security", requireAll: "Require two-step verification of all staff",
    requireHint: "Staff without it are logged out and set it up at their next login. Your own must be on first.",
  },
  staff: {
    totp: "2-step", resetTotp: "Reset 2-step", confirmResetTotp: "Reset the two-step verification of “{name}”? Their sessions end at once (for a lost phone).",
    new: "New staff", role: "Role", state: "State", enabled: "Active", disabled: "Disabled", enable: "Enable", disable: "Disable",
    lastLogin: "Last login", lockedUntil: "Locked until {t}", resetPassword: "Set password", passwordHint: "At least 10 characters",
    confirmDisable: "Disable “{name}”? Their sessions end at once.",
  },
};
export default en;

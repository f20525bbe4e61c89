package review

import (
	"context"

	"github.com/minimall/minimall/internal/customer"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/wechat"
)

// Orders is the part of the order module reviews read (*order.Service).
type Orders interface {
	// Get returns one of the customer's orders with its items; another
	// customer's order is an *apperr.Error with code not_found.
	Get(ctx context.Context, customerID, orderID int64) (order.Order, error)
}

// Author is what a review needs to know about the customer writing it.
type Author struct {
	Nickname string
	// OpenID is the customer's openid in the configured mini-program, the
	// user WeChat's content checks are asked about ("" for other channels).
	OpenID string
}

// Customers is the part of the customer module reviews read
// (*customer.Service): the author's nickname and openid.
type Customers interface {
	Profile(ctx context.Context, id int64) (customer.Profile, error)
	// WeChatOpenID returns the customer's openid in the configured
	// mini-program ("" when there is none).
	WeChatOpenID(ctx context.Context, customerID int64) (string, error)
}

// Media tells whether image URLs are ones the customer uploaded to the shop
// (*media.Service).
type Media interface {
	CheckCustomerImages(ctx context.Context, customerID int64, field string, urls []string) error
}

// Ratings moves a product's rating summary (*catalog.Service). Calls made
// with a context that carries a transaction join it.
type Ratings interface {
	// AddRating adds delta (+1 or -1) reviews of stars (1–5) to the
	// product's summary.
	AddRating(ctx context.Context, productID int64, stars int, delta int64) error
}

// ContentChecker is WeChat's content security (*wechat.Client).
type ContentChecker interface {
	CheckText(ctx context.Context, openID, content string) (wechat.TextVerdict, error)
	CheckImageAsync(ctx context.Context, openID, mediaURL string) (string, error)
}

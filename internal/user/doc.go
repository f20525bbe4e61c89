// Package user owns the people of the shop: customers with their identities
// per channel (WeChat openid/unionid, Alipay user_id/open_id), their shipping
// addresses, and staff accounts with their roles.
package user

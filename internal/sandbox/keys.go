package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync"
)

// Keys are the RSA keys a sandbox signs and verifies with: Alipay's own,
// the application's, a foreign one for forged notifications and the root
// of certificate mode; WeChat Pay's merchant, platform and foreign keys.
// Generating them is most of the cost of New (seven 2048-bit keys), so a
// test package makes one set with NewKeys (in TestMain, or once) and passes
// it in Options.Keys to every sandbox it builds. Every other credential
// (app ids, merchant ids, the APIv3 key) is still new for each sandbox.
type Keys struct {
	alipay, app, alipayForeign, alipayRoot                 *rsa.PrivateKey
	wechatPayMerchant, wechatPayPlatform, wechatPayForeign *rsa.PrivateKey
}

// NewKeys generates a set of sandbox keys, in parallel.
func NewKeys() (*Keys, error) {
	k := &Keys{}
	slots := []**rsa.PrivateKey{&k.alipay, &k.app, &k.alipayForeign, &k.alipayRoot,
		&k.wechatPayMerchant, &k.wechatPayPlatform, &k.wechatPayForeign}
	errs := make([]error, len(slots))
	var wg sync.WaitGroup
	for i, slot := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*slot, errs[i] = rsa.GenerateKey(rand.Reader, 2048)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("sandbox: generate key: %w", err)
		}
	}
	return k, nil
}

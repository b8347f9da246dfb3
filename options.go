package wxpay

import "github.com/wxpay-go/wxpay/internal/wire"

// WithOptions bundles opts into one Option, applied in order: how a
// helper hands over everything a connection needs in one value (the test
// server of package wxpaytest gives its base URL, its HTTP client and the
// merchant's certificate as one, Server.ClientOption). A nil option in
// opts is refused, as [NewClient] refuses one.
func WithOptions(opts ...Option) Option {
	return func(o *options) error {
		for _, opt := range opts {
			if opt == nil {
				return wire.NewError("wxpay: ", "WithOptions: nil Option")
			}
			if err := opt(o); err != nil {
				return err
			}
		}
		return nil
	}
}

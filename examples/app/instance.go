package app

import (
	"github.com/wxpay-go/wxpay/examples/api"
	"github.com/wxpay-go/wxpay/examples/shop"
)

// DefaultDBPath is the SQLite file of a mode when neither -db nor DB_PATH
// names one: one file per mode, so that trying the server in fake mode
// and then going live never runs real payments on the fake's data.
func DefaultDBPath(mode string) string {
	if mode == shop.ModeReal {
		return "wxpay-example-real.db"
	}
	return "wxpay-example-fake.db"
}

// instance is what the server records in its database (shop.DB.Claim):
// fake mode, whether its WeChat is the in-process fake or the standalone
// one of shared-fake mode (both pay for free), or real mode for this
// merchant.
func (c Config) instance(fake bool) shop.Instance {
	if fake || c.WeChatURL != "" {
		return shop.Instance{Mode: shop.ModeFake}
	}
	return shop.Instance{Mode: shop.ModeReal, AppID: c.AppID, MchID: c.MchID}
}

// tokenBinding binds the server's JWTs to its mode (the audience) and, in
// real mode, its merchant (in the issuer): a token a fake-mode server
// issued is refused by a real one and the reverse, even with the same
// JWT_SECRET, and so is one of another merchant's server.
func tokenBinding(inst shop.Instance) api.Binding {
	b := api.Binding{Issuer: "wxpay-example", Audience: inst.Mode}
	if inst.Mode == shop.ModeReal {
		b.Issuer += ":" + inst.MchID + ":" + inst.AppID
	}
	return b
}

// limits are the API's rate limits: the defaults, or none with
// -unmetered.
func (c Config) limits() api.Limits {
	if c.Unmetered {
		return api.NoLimits
	}
	return api.DefaultLimits
}

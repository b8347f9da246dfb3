package wxpaytest

import (
	"fmt"
	"log/slog"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// String describes c without its APIKey, AppSecret, APIv3Key and
// WeChatPayKey.
func (c Config) String() string {
	return fmt.Sprintf("wxpaytest.Config{AppID:%s MchID:%s SignType:%s APIKey:%s AppSecret:%s Speed:%g APIv3Key:%s MerchantSerialNo:%s WeChatPayKey:%s V3Signer:%s}",
		c.AppID, c.MchID, c.SignType, wire.RedactedIf(c.APIKey != ""), wire.RedactedIf(c.AppSecret != ""), c.Speed,
		wire.RedactedIf(c.APIv3Key != ""), c.MerchantSerialNo, wire.RedactedIf(len(c.WeChatPayKey) > 0), c.V3Signer)
}

// Format prints c as [Config.String] does, under every verb and flag,
// so that fmt.Printf("%+v", cfg) in a failing test cannot print the key.
func (c Config) Format(f fmt.State, verb rune) {
	s := c.String()
	wire.FormatRedacted(f, verb, s, s)
}

// LogValue makes slog print c without its APIKey and AppSecret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("appid", c.AppID),
		slog.String("mch_id", c.MchID),
		slog.String("sign_type", string(c.SignType)),
		slog.String("api_key", wire.RedactedIf(c.APIKey != "")),
		slog.String("app_secret", wire.RedactedIf(c.AppSecret != "")),
		slog.String("apiv3_key", wire.RedactedIf(c.APIv3Key != "")),
		slog.String("wechatpay_key", wire.RedactedIf(len(c.WeChatPayKey) > 0)),
	)
}

// String names the merchant the fake plays WeChat for, and nothing
// secret.
func (f *Fake) String() string {
	return fmt.Sprintf("wxpaytest.Fake{AppID:%s MchID:%s SignType:%s}", f.cfg.AppID, f.cfg.MchID, f.signType)
}

// Format prints f as [Fake.String] does, under every verb and flag: the
// fake holds the merchant's key and AppSecret.
func (f *Fake) Format(s fmt.State, verb rune) {
	text := f.String()
	wire.FormatRedacted(s, verb, text, text)
}

// LogValue makes slog print the fake's merchant only.
func (f *Fake) LogValue() slog.Value {
	return slog.GroupValue(slog.String("appid", f.cfg.AppID), slog.String("mch_id", f.cfg.MchID))
}

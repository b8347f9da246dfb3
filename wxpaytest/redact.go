package wxpaytest

import (
	"fmt"
	"log/slog"
)

// String describes c without its APIKey and AppSecret.
func (c Config) String() string {
	return fmt.Sprintf("wxpaytest.Config{AppID:%s MchID:%s SignType:%s APIKey:%s AppSecret:%s Speed:%g}",
		c.AppID, c.MchID, c.SignType, redacted(c.APIKey), redacted(c.AppSecret), c.Speed)
}

// Format prints c as [Config.String] does, for every verb, so that
// fmt.Printf("%+v", cfg) in a failing test cannot print the key.
func (c Config) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// LogValue makes slog print c without its APIKey and AppSecret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("appid", c.AppID),
		slog.String("mch_id", c.MchID),
		slog.String("sign_type", string(c.SignType)),
		slog.String("api_key", redacted(c.APIKey)),
		slog.String("app_secret", redacted(c.AppSecret)),
	)
}

// String names the merchant the fake plays WeChat for, and nothing
// secret.
func (f *Fake) String() string {
	return fmt.Sprintf("wxpaytest.Fake{AppID:%s MchID:%s SignType:%s}", f.cfg.AppID, f.cfg.MchID, f.signType)
}

// Format prints f as [Fake.String] does, for every verb: the fake holds
// the merchant's key and AppSecret.
func (f *Fake) Format(s fmt.State, _ rune) { fmt.Fprint(s, f.String()) }

// LogValue makes slog print the fake's merchant only.
func (f *Fake) LogValue() slog.Value {
	return slog.GroupValue(slog.String("appid", f.cfg.AppID), slog.String("mch_id", f.cfg.MchID))
}

func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return "[redacted]"
}

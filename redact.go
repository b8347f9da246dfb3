package wxpay

import (
	"fmt"
	"io"
	"log/slog"
)

// The API key must never reach a log line, however a value holding it is
// printed. Config, Client and Signer therefore implement fmt.Formatter
// (which covers %v, %+v, %#v and %s) and slog.LogValuer, on value
// receivers so that printing a dereferenced value is covered too.

// String describes c without its API key.
func (c Config) String() string {
	return "wxpay.Config{AppID:" + c.AppID + " MchID:" + c.MchID + " APIKey:REDACTED SignType:" +
		string(c.SignType) + " NotifyURL:" + c.NotifyURL + "}"
}

// Format prints c as [Config.String] does for every verb, so that
// fmt.Printf("%+v", cfg) cannot leak the API key.
func (c Config) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue makes slog print c without its API key.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("appid", c.AppID),
		slog.String("mch_id", c.MchID),
		slog.String("sign_type", string(c.SignType)),
		slog.String("notify_url", c.NotifyURL),
	)
}

// Format prints the client's merchant identity and nothing secret, for
// every verb.
func (c Client) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "wxpay.Client{AppID:"+c.cfg.AppID+" MchID:"+c.cfg.MchID+
		" SignType:"+string(c.cfg.SignType)+" BaseURL:"+c.baseURL+"}")
}

// LogValue makes slog print the client's merchant identity only.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("appid", c.cfg.AppID),
		slog.String("mch_id", c.cfg.MchID),
		slog.String("base_url", c.baseURL),
	)
}

// Format prints the signer's algorithm only, for every verb: its state is
// derived from the API key.
func (s Signer) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, "wxpay.Signer{Type:"+string(s.typ)+"}")
}

// LogValue makes slog print the signer's algorithm only.
func (s Signer) LogValue() slog.Value { return slog.StringValue(string(s.typ)) }

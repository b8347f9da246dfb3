package wxpay

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// The API key must never reach a log line. Config, Client and Signer
// therefore implement fmt.Formatter (which covers every verb) and
// slog.LogValuer, on value receivers so that printing a dereferenced
// value is covered too, and Config redacts itself in JSON. A value nested
// in an unexported field of another struct is printed by reflection,
// without its methods, so Client and Signer do not rely on them:
//
// key material lives two pointers away from any struct field: fmt's
// error path for a verb that does not fit a pointer (%s, %q, %t, ...)
// prints the pointee of a pointer it meets, at any depth, but only one
// level deep, and prints pointers below that as addresses. One pointer
// would show the key under %s; two show an address. [sealed] is that
// second pointer.
//
// A Config is a plain struct the caller owns: nested in an unexported
// field of another struct and printed, its APIKey field is printed like
// any other string. Keep Config out of such structs, or build the Client
// and drop the Config.

// String describes c without its API key.
//
// Config redacts its APIKey wherever fmt, slog or encoding/json can reach
// its methods: printed directly, in an exported field, a slice, a map or
// an interface value, logged with slog, encoded as JSON. Two cases cannot
// be covered, because fmt prints them by reflection without calling any
// method: the %p verb applied to a Config value, and a Config held in an
// unexported field of the caller's own struct. Keep Config out of such
// places, or build the [Client] and drop the Config (the Client keeps the
// key where no printing reaches it).
func (c Config) String() string {
	return "wxpay.Config{AppID:" + c.AppID + " MchID:" + c.MchID + " APIKey:" + wire.Redacted + " SignType:" +
		string(c.SignType) + " NotifyURL:" + c.NotifyURL + "}"
}

// Format prints c as [Config.String] does for every verb, so that
// fmt.Printf("%+v", cfg) cannot leak the API key.
func (c Config) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// MarshalJSON writes c with APIKey replaced by "REDACTED", so that a
// Config dumped as JSON (a debug endpoint, a structured log) never carries
// the key. Unmarshalling is unaffected.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config // no methods: breaks the recursion
	p := plain(c)
	if p.APIKey != "" {
		p.APIKey = wire.Redacted
	}
	return json.Marshal(p)
}

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

// seal puts a secret behind a second pointer (see above and
// [wire.Sealed], shared with apiv3). Fields that hold key material have
// type *wire.Sealed[T], never T or *T.
func seal[T any](v T) *wire.Sealed[T] { return wire.Seal(v) }

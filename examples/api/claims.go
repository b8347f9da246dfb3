package api

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/golang-jwt/jwt/v5"
)

// claims are the registered claims of the API's tokens, read strictly.
// golang-jwt reads a NumericDate through json.Number, which also takes a
// JSON string ("exp": "9999999999"), and reads any JSON value it cannot
// place as absent; RFC 7519 (section 2 and 4.1) makes exp, nbf and iat
// numbers and iss and sub strings. So every registered claim present must
// have its RFC type, and a time must be a whole number of seconds, as
// Issue writes it, before golang-jwt sees the token.
type claims struct {
	jwt.RegisteredClaims
}

var errClaimType = errors.New("api: a registered claim has the wrong type")

// maxTimeDigits bounds a time claim: 11 digits reach the year 5138, past
// any honest expiry, and keep the conversion to time.Time exact.
const maxTimeDigits = 11

// UnmarshalJSON checks the type of each registered claim, then decodes.
func (c *claims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		return errClaimType // null: the claims must be an object
	}
	for name, v := range raw {
		v = bytes.TrimSpace(v)
		var ok bool
		switch name {
		case "exp", "nbf", "iat":
			ok = wholeSeconds(v)
		case "iss", "sub", "jti":
			ok = isString(v)
		case "aud": // a string or an array of strings (RFC 7519, 4.1.3)
			var many []json.RawMessage
			ok = isString(v) || (len(v) > 0 && v[0] == '[' && json.Unmarshal(v, &many) == nil && len(many) > 0)
			for _, m := range many {
				ok = ok && isString(bytes.TrimSpace(m))
			}
		default:
			ok = true // private claims are not read
		}
		if !ok {
			return errClaimType
		}
	}
	return json.Unmarshal(b, &c.RegisteredClaims)
}

// wholeSeconds reports whether v is a JSON number of 1 to maxTimeDigits
// decimal digits: no sign, fraction, exponent, quotes or null.
func wholeSeconds(v []byte) bool {
	if len(v) == 0 || len(v) > maxTimeDigits || (v[0] == '0' && len(v) > 1) {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isString reports whether v is a JSON string (not null, not a number).
func isString(v []byte) bool {
	var s string
	return len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil
}

package miniprogram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// PhoneInfo is a user's phone number as returned by
// [Client.GetPhoneNumber]. Its JSON form also matches the legacy encrypted
// phone payload, so json.Unmarshal of [Client.DecryptData]'s result into a
// PhoneInfo works too; but that payload comes through the user's device
// and can be forged (see [Client.DecryptData]), so take phone numbers you
// rely on from GetPhoneNumber.
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/server/API/user-info/phone-number/api_getphonenumber
type PhoneInfo struct {
	// PhoneNumber includes the country code for non-mainland numbers,
	// e.g. "+1 5551234567"; mainland numbers have none.
	PhoneNumber string `json:"phoneNumber"`
	// PurePhoneNumber is the number without country code.
	PurePhoneNumber string `json:"purePhoneNumber"`
	// CountryCode is the calling code without "+", e.g. "86". WeChat sends
	// it as a JSON string or a number depending on the API; both decode
	// into this string.
	CountryCode string `json:"countryCode"`
	// Watermark says which app the number was issued to and when.
	// [Client.GetPhoneNumber] checks its AppID when WeChat sends one.
	Watermark Watermark `json:"watermark"`
}

// UnmarshalJSON decodes a PhoneInfo, accepting countryCode as either a
// JSON string ("86") or an integer (86).
func (p *PhoneInfo) UnmarshalJSON(b []byte) error {
	type plain PhoneInfo // no methods: avoids recursion
	var aux struct {
		plain
		CountryCode json.RawMessage `json:"countryCode"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	cc, err := decodeCountryCode(aux.CountryCode)
	if err != nil {
		return err
	}
	*p = PhoneInfo(aux.plain)
	p.CountryCode = cc
	return nil
}

func decodeCountryCode(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	n, err := strconv.ParseUint(string(raw), 10, 32)
	if err != nil {
		return "", errors.New("miniprogram: countryCode is neither a string nor a non-negative integer")
	}
	return strconv.FormatUint(n, 10), nil
}

// phoneResponse is the getuserphonenumber body.
type phoneResponse struct {
	apiStatus
	PhoneInfo *PhoneInfo `json:"phone_info"`
}

// GetPhoneNumber exchanges the code from a phone-number button
// (open-type="getPhoneNumber", bindgetphonenumber event detail.code) for
// the user's phone number. Codes are single-use and valid for five
// minutes.
//
// It authenticates with [Client.AccessToken]. If WeChat says the token is
// invalid or expired ([CodeInvalidCredential], [CodeAccessTokenExpired],
// [CodeInvalidAccessToken]), it invalidates the token and retries exactly
// once with a fresh one. Other failures are [*Error] values with Op
// "getuserphonenumber", e.g. [CodeInvalidCode]; token failures keep the Op
// of the token API. If the response has a watermark naming another app
// the result is [ErrWatermark]. An empty code is [ErrBadInput].
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/server/API/user-info/phone-number/api_getphonenumber
func (c *Client) GetPhoneNumber(ctx context.Context, code string) (*PhoneInfo, error) {
	const op = "getuserphonenumber"
	if code == "" {
		return nil, fmt.Errorf("%w: %s: empty code", ErrBadInput, op)
	}
	body := struct {
		Code string `json:"code"`
	}{code}
	for attempt := 0; ; attempt++ {
		tok, err := c.AccessToken(ctx)
		if err != nil {
			return nil, err
		}
		q := url.Values{"access_token": {tok}}
		r, err := c.do(ctx, op, http.MethodPost, "/wxa/business/getuserphonenumber", q, body)
		if err != nil {
			return nil, err
		}
		info, err := decodePhone(r, scrubber(c.appSecret(), tok))
		var apiErr *Error
		if attempt == 0 && errors.As(err, &apiErr) && isTokenRejected(apiErr.Code) {
			c.InvalidateAccessToken(tok)
			continue
		}
		if err != nil {
			return nil, err
		}
		if info.Watermark.AppID != "" {
			if err := c.checkWatermark(info.Watermark.AppID); err != nil {
				return nil, err
			}
		}
		return info, nil
	}
}

// decodePhone validates a getuserphonenumber response; it never panics.
func decodePhone(r *response, scrub func(string) string) (*PhoneInfo, error) {
	const op = "getuserphonenumber"
	var pr phoneResponse
	if err := decodeAPI(op, r, &pr, scrub); err != nil {
		return nil, err
	}
	if pr.PhoneInfo == nil || pr.PhoneInfo.PhoneNumber == "" {
		return nil, invalidResponse(op, r.status, "missing phone_info.phoneNumber")
	}
	return pr.PhoneInfo, nil
}

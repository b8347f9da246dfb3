package wxpay

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wxpay-go/wxpay/internal/wire"
)

// Sandbox path prefixes (仿真测试系统). WeChat has had two generations,
// both deprecated or nearly so; see [WithSandbox].
const (
	// SandboxPrefix is the first generation, /sandboxnew, with getsignkey
	// at /sandboxnew/pay/getsignkey. WeChat marked it deprecated in 2022.
	SandboxPrefix = "/sandboxnew"
	// SandboxPrefixXDC is the current one, /xdc/apiv2sandbox, with
	// getsignkey at /xdc/apiv2getsignkey/sign/getsignkey. It covers only
	// micropay's success and error cases.
	SandboxPrefixXDC = "/xdc/apiv2sandbox"
)

// WithSandbox sends every call to WeChat's sandbox: prefix (usually
// [SandboxPrefix] or [SandboxPrefixXDC]) is put between the base URL and
// each endpoint's path. Before the first call the client fetches the
// sandbox key with getsignkey (signed with MD5 under the production API
// key), once, and caches it; every sandbox call is then signed, and its
// answer verified, with that key and with MD5, whatever Config.SignType
// says, because the sandbox accepts nothing else. A failed fetch is not
// cached: the next call tries again.
//
// The sandbox is deprecated and covers little; wxpay supports exactly
// this and no sandbox-specific behaviour beyond it. Payment and refund
// notifications are still verified with the production key. Whether the
// sandbox's refund path keeps /secapi is disputed between WeChat's SDKs;
// wxpay keeps the production paths under the prefix.
//
// WeChat Pay docs: https://pay.weixin.qq.com/wiki/doc/api/tools/sp_coupon.php?chapter=23_1
func WithSandbox(prefix string) Option {
	return func(o *options) error {
		if !strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") || strings.ContainsAny(prefix, "?#% ") {
			return wire.NewError("wxpay: ", "WithSandbox: prefix must be a path such as "+SandboxPrefixXDC)
		}
		o.setup = append(o.setup, func(c *Client, apiKey string) error {
			prod, err := NewSigner(apiKey, SignMD5)
			if err != nil {
				return err
			}
			sb := &sandboxKey{path: signKeyPath(prefix), prod: prod}
			c.prefix = prefix
			c.sandboxSigner = func(ctx context.Context) (*Signer, error) { return c.fetchSandboxKey(ctx, sb) }
			return nil
		})
		return nil
	}
}

// signKeyPath is getsignkey's path for a sandbox prefix: the XDC
// generation keeps it outside its own prefix.
func signKeyPath(prefix string) string {
	if prefix == SandboxPrefixXDC {
		return "/xdc/apiv2getsignkey/sign/getsignkey"
	}
	return prefix + "/pay/getsignkey"
}

// sandboxKey fetches and caches the sandbox signer.
type sandboxKey struct {
	path string  // getsignkey path
	prod *Signer // MD5 under the production key: signs getsignkey
	mu   sync.Mutex
	s    *Signer // cached once fetched
}

var epGetSignKey = endpoint{op: "getsignkey", path: ""}

// fetchSandboxKey returns the sandbox signer of sb, fetching the key
// with getsignkey on first use.
func (c *Client) fetchSandboxKey(ctx context.Context, sb *sandboxKey) (*Signer, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.s != nil {
		return sb.s, nil
	}
	nonce, err := c.nonce()
	if err != nil {
		return nil, err
	}
	// getsignkey carries mch_id and nonce_str only, signed with MD5 under
	// the production key; its answer is not signed.
	body, err := sb.prod.encodeSigned([]field{{"mch_id", c.cfg.MchID}, {"nonce_str", nonce}})
	if err != nil {
		return nil, err
	}
	// Not an endpoint of its own: no failover, and the path is the
	// sandbox's.
	hresp, _, err := c.do(ctx, c.hc, c.attemptTimeout(c.hc, wire.DefaultTimeout), c.baseURL+sb.path, body)
	var status int
	var resp []byte
	if err == nil {
		status, resp, err = c.readAnswer(ctx, epGetSignKey.op, time.Now(), hresp)
	}
	if err != nil {
		return nil, &opError{epGetSignKey.op, err}
	}
	p, err := DecodeXML(resp)
	if status != http.StatusOK || err != nil {
		return nil, &Error{Op: epGetSignKey.op, StatusCode: status, Err: err}
	}
	if err := protocolLayer(epGetSignKey.op, status, p); err != nil {
		return nil, err
	}
	if m := p["mch_id"]; m != "" && m != c.cfg.MchID {
		return nil, &opError{epGetSignKey.op, ErrMerchant}
	}
	key, err := requiredField(p, "sandbox_signkey")
	if err != nil {
		return nil, &opError{epGetSignKey.op, err}
	}
	s, err := NewSigner(key, SignMD5)
	if err != nil {
		return nil, &opError{epGetSignKey.op, errors.New("sandbox_signkey is not a usable key")}
	}
	sb.s = s
	return s, nil
}

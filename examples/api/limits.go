package api

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/wxpay-go/wxpay/examples/shop"
)

// Limits meter the calls that cost WeChat quota or a durable write: every
// login is a code2session call, every pay call may be a unifiedorder or
// closeorder call, every order a transaction. (Order polling, which may
// call orderquery, is metered in package shop: see shop.UserQueryRate.)
// A caller past a limit gets 429 too_many_requests with Retry-After. The
// limits hold per instance: N instances allow N times as much.
type Limits struct {
	// LoginPerAddress meters POST /users/wxLogin per client address (an
	// IPv6 address by its /64, which one host usually has whole). Behind a
	// proxy every client has the proxy's address: then this is a second
	// global limit.
	LoginPerAddress shop.Rate
	// LoginGlobal meters POST /users/wxLogin over all clients, so that
	// many addresses cannot spend the app's code2session quota either.
	LoginGlobal shop.Rate
	// OrdersPerUser meters POST /orders per user.
	OrdersPerUser shop.Rate
	// PayPerUser meters POST /orders/{id}/pay per user.
	PayPerUser shop.Rate
}

// DefaultLimits are the limits of a Config that sets none: generous for
// a person (per address a login every 2 seconds after a burst of 30; per
// user an order a second after 60, a pay call every 3 seconds after 20),
// small against a script.
var DefaultLimits = Limits{
	LoginPerAddress: shop.Rate{Every: 2 * time.Second, Burst: 30},
	LoginGlobal:     shop.Rate{Every: 10 * time.Millisecond, Burst: 200},
	OrdersPerUser:   shop.Rate{Every: time.Second, Burst: 60},
	PayPerUser:      shop.Rate{Every: 3 * time.Second, Burst: 20},
}

// NoLimits meters nothing, for load tests against a fake WeChat.
var NoLimits = Limits{shop.Unlimited, shop.Unlimited, shop.Unlimited, shop.Unlimited}

// maxMeteredKeys bounds each per-address and per-user table; a full table
// drops its least recently used key (see shop.Limiter).
const maxMeteredKeys = 10_000

type meters struct {
	loginAddr, loginAll, orders, pay *shop.Limiter
}

func newMeters(l Limits) *meters {
	if l == (Limits{}) {
		l = DefaultLimits
	}
	return &meters{
		loginAddr: shop.NewLimiter(l.LoginPerAddress, maxMeteredKeys),
		loginAll:  shop.NewLimiter(l.LoginGlobal, 1),
		orders:    shop.NewLimiter(l.OrdersPerUser, maxMeteredKeys),
		pay:       shop.NewLimiter(l.PayPerUser, maxMeteredKeys),
	}
}

// take takes a call from l's bucket for key, or sets Retry-After (whole
// seconds, RFC 9110, section 10.2.3) and returns the 429 error.
func take(w http.ResponseWriter, l *shop.Limiter, key, what string) error {
	ok, after := l.Allow(key)
	if ok {
		return nil
	}
	secs := int((after + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	return shop.Errorf(shop.CodeTooMany, "too many %s; try again in %d seconds", what, max(secs, 1))
}

// meterLogin meters a login by the client's address (behind a trusted
// proxy, the one X-Forwarded-For names), then globally.
func (h *Handler) meterLogin(w http.ResponseWriter, r *http.Request) error {
	if err := take(w, h.meters.loginAddr, addressKey(ClientIP(r, h.cfg.TrustedProxies)), "logins from this address"); err != nil {
		return err
	}
	return take(w, h.meters.loginAll, "", "logins")
}

// perUser meters a route's calls per logged-in user.
func (h *Handler) perUser(l *shop.Limiter, what string, next func(w http.ResponseWriter, r *http.Request, u shop.User) error) func(w http.ResponseWriter, r *http.Request, u shop.User) error {
	return func(w http.ResponseWriter, r *http.Request, u shop.User) error {
		if err := take(w, l, strconv.FormatInt(u.ID, 10), what); err != nil {
			return err
		}
		return next(w, r, u)
	}
}

// addressKey is the metering key of a client address: the IPv4 address,
// or the /64 of an IPv6 one.
func addressKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

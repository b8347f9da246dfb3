package api

import (
	"crypto/rand"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/wxpay-go/wxpay/examples/shop"
)

const issuer = "wxpay-example"

// MaxTokenBytes bounds the Authorization header parsed: a real token is a
// few hundred bytes.
const MaxTokenBytes = 2048

// Auth issues and checks the API's JWTs: HS256 only, with a required and
// short expiry.
type Auth struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
	users  func(r *http.Request, id int64) (shop.User, error)
	bind   Binding
	parser *jwt.Parser
}

// NewAuth returns an Auth signing with secret (at least 32 bytes) whose
// tokens last ttl, with the issuer "wxpay-example" and no audience. users
// looks up the user a token names. A server uses [NewBoundAuth].
func NewAuth(secret []byte, ttl time.Duration, now func() time.Time, users func(r *http.Request, id int64) (shop.User, error)) (*Auth, error) {
	return NewBoundAuth(Binding{Issuer: issuer}, secret, ttl, now, users)
}

// Binding is what a token is bound to: its iss and aud claims (RFC 7519,
// 4.1.1 and 4.1.3), written by Issue and required by User. A server
// binds its tokens to its mode and merchant, so that two servers sharing
// a JWT_SECRET (a fake-mode one and a real one, say) never accept each
// other's tokens.
type Binding struct {
	Issuer   string // required
	Audience string // "" for none
}

// NewBoundAuth is [NewAuth] with the tokens bound to b.
func NewBoundAuth(b Binding, secret []byte, ttl time.Duration, now func() time.Time, users func(r *http.Request, id int64) (shop.User, error)) (*Auth, error) {
	if b.Issuer == "" {
		return nil, errors.New("api: a token binding needs an issuer")
	}
	if len(secret) < 32 {
		return nil, errors.New("api: JWT secret must be at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), // alg pinned: no none, no HS384, no RS256 confusion
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(b.Issuer),
		jwt.WithLeeway(5 * time.Second),
		jwt.WithTimeFunc(now),
	}
	if b.Audience != "" {
		opts = append(opts, jwt.WithAudience(b.Audience))
	}
	return &Auth{secret: secret, ttl: ttl, now: now, users: users, bind: b, parser: jwt.NewParser(opts...)}, nil
}

// RandomSecret returns a fresh 32-byte secret.
func RandomSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// Issue returns a token for user id.
func (a *Auth) Issue(id int64) (string, time.Time, error) {
	now := a.now()
	exp := now.Add(a.ttl).Truncate(time.Second)
	var aud jwt.ClaimStrings
	if a.bind.Audience != "" {
		aud = jwt.ClaimStrings{a.bind.Audience}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer:    a.bind.Issuer,
		Audience:  aud,
		Subject:   strconv.FormatInt(id, 10),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	})
	s, err := tok.SignedString(a.secret)
	return s, exp.UTC(), err
}

var errUnauthorized = shop.Errorf(shop.CodeUnauthorized, "missing, invalid or expired token; log in again")

// User returns the user r's bearer token names. Every failure (missing,
// malformed, wrong algorithm, bad signature, expired) is the same 401, and
// why is never told: expired and forged tokens get the same answer.
func (a *Auth) User(r *http.Request) (shop.User, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" || len(tok) > MaxTokenBytes {
		return shop.User{}, errUnauthorized
	}
	var claims claims
	t, err := a.parser.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return a.secret, nil })
	if err != nil || !t.Valid {
		return shop.User{}, errUnauthorized
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id < 1 {
		return shop.User{}, errUnauthorized
	}
	u, err := a.users(r, id)
	if shop.ErrorCode(err) == shop.CodeUnauthorized {
		return shop.User{}, errUnauthorized
	}
	return u, err
}

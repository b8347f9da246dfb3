// Package miniprogram calls the WeChat mini-program server APIs that a
// backend needs around login and payment: exchanging a wx.login code for a
// session ([Client.Code2Session]), decrypting and verifying the user data the
// mini program forwards ([Client.DecryptData], [Client.DecryptUserInfo],
// [VerifyRawData]), fetching and caching access tokens ([Client.AccessToken])
// and resolving a phone-number code ([Client.GetPhoneNumber]).
//
// It is independent of the payment package and imports only the standard
// library. A [Client] is safe for concurrent use; create one per app and
// share it, so that all goroutines share one access-token cache.
//
// # Secrets
//
// The app secret, every session_key and every access token are secrets.
// This package never puts them in error strings: transport errors have the
// secret query parameters of the request URL redacted, and WeChat's errmsg
// is scrubbed of the app secret and the token. Redirects are never
// followed, so a request carrying the app secret goes only to the
// configured host. NewClient accepts only an AppSecret of the 32
// characters WeChat issues.
//
// Values this package creates hold their secrets so that nothing prints
// them: a [Client] shows only its app id, and a [Session]'s key is an
// opaque [SessionKey] that shows "[redacted]", under every fmt verb, in
// log/slog (text and JSON handlers) and in encoding/json, also when they
// sit deep inside a value of yours (an unexported field, an any, a map or
// a slice). [SessionKey.Reveal] is the one way to get a key out, to store
// it server-side; [ParseSessionKey] rebuilds it. Never send a session_key
// to the mini program itself.
//
// # Trusting user data
//
// Only [Client.Code2Session] and [Client.GetPhoneNumber] get their answers
// from WeChat directly. encryptedData and iv come through the user's
// device, and WeChat's AES-CBC encryption has no MAC, so the first 16
// bytes of a decrypted payload can be rewritten by the client without the
// session key. Identify users by [Session.OpenID] and [Session.UnionID];
// [Client.DecryptUserInfo] rejects a profile whose openId does not match
// the session with [ErrIdentity]. Take phone numbers from
// [Client.GetPhoneNumber] (server to server), never from a decrypted
// phone payload the client sent. [Client.DecryptData] answers every
// failed decryption with the one error [ErrDecrypt], so it cannot be used
// as a padding oracle.
//
// # Errors
//
// WeChat reports failures as HTTP 200 with an errcode/errmsg JSON body.
// Those, non-2xx statuses and malformed bodies all come back as [*Error];
// use errors.As to inspect Code or StatusCode and [Error.Retryable] to decide
// whether to try again later. Local checks return wrapped sentinels
// ([ErrBadInput], [ErrDecrypt], [ErrWatermark], [ErrIdentity],
// [ErrSignature], [ErrInvalidResponse]) for errors.Is. Every network call takes a context
// first, and its cancellation is reported as the context's own error, so
// errors.Is(err, context.DeadlineExceeded) works.
//
// WeChat docs: https://developers.weixin.qq.com/miniprogram/dev/server/API/
package miniprogram

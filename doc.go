// Package wxpay is a client for WeChat Pay API v2, the XML protocol that
// WeChat mini-programs, official accounts and apps use to take payments.
//
// A v2 message is a flat XML document whose fields are signed with the
// merchant's API key (MD5 or HMAC-SHA256 over the sorted fields). The
// package is built around that fact:
//
//   - [Params] is one message as a field map, decoded from untrusted bytes
//     by the hardened [DecodeXML] and written by [EncodeXML].
//   - [Signer] signs and verifies a [Params] over every field it holds, so
//     fields this package does not know (new WeChat fields, coupons) are
//     still covered by the signature.
//   - [Error] is a FAIL answer from WeChat; the Err* sentinels name the
//     ways a message can fail verification.
//
// WeChat Pay docs (signing rules): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
package wxpay

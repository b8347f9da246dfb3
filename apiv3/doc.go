// Package apiv3 is a client for WeChat Pay API v3: JSON over HTTPS, requests
// signed with the merchant's RSA key (WECHATPAY2-SHA256-RSA2048), answers and
// notifications signed by WeChat and verified here before anything of them
// is read, notification resources and platform certificates sealed with
// AES-256-GCM under the APIv3 key.
//
// The root package wxpay speaks API v2 (XML, MD5/HMAC keys); the two are
// independent systems and may be used side by side for one merchant number.
// Merchants who signed up since 2024 are given the WeChat Pay public key
// (its PUB_KEY_ID_… id and pub_key.pem) instead of platform certificates;
// both are supported, and both at once while a merchant migrates.
//
// A [Client] is built from a [Config] with [NewClient], which checks every
// key up front. It is safe for concurrent use; share one per merchant.
//
// Every answer is verified with WeChat's key named by its Wechatpay-Serial
// header, within five minutes of the client's clock; the probe signatures
// WeChat sends to catch merchants who never verify
// (Wechatpay-Signature: WECHATPAY/SIGNTEST/…) fail as forgeries. Errors
// carry WeChat's code, message and detail ([*Error]), say when a retry must
// reuse the same idempotency key ([*OutcomeUnknownError]), and never carry
// the private key, the APIv3 key or a signature.
//
// WeChat Pay docs:
//   - signing rules: https://pay.weixin.qq.com/doc/v3/merchant/4012365336
//   - verifying answers: https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay4_1.shtml
//   - interface rules: https://pay.weixin.qq.com/docs/merchant/development/interface-rules/basic-rules.html
//   - public key mode: https://pay.weixin.qq.com/doc/v3/merchant/4012154180
//   - platform certificates: https://pay.weixin.qq.com/wiki/doc/apiv3/wechatpay/wechatpay5_0.shtml
package apiv3

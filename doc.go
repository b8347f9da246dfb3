// Package wxpay is a client for WeChat Pay API v2, the XML protocol that
// WeChat mini-programs, official accounts and apps use to take payments.
// API v3, the JSON generation WeChat steers new merchants to, is package
// github.com/wxpay-go/wxpay/apiv3, with the same shape: one Client, typed
// requests and errors, verified answers and notification handlers. A
// merchant number may use both generations at once.
//
// # The payment flow
//
// A mini-program payment takes four steps, each one call here:
//
//  1. The mini-program logs the user in; the server exchanges the code
//     for the user's openid with miniprogram.Client.Code2Session (package
//     github.com/wxpay-go/wxpay/miniprogram).
//  2. The server places the order with [Client.UnifiedOrder] (trade type
//     [TradeJSAPI], the openid, the amount in fen) and gets a prepay_id.
//  3. The server signs the arguments of wx.requestPayment with
//     [Client.JSAPIParams] and hands them to the mini-program as JSON.
//  4. WeChat tells the server the payment succeeded by POSTing to
//     notify_url; [Client.NotifyHandler] verifies the notification and
//     acknowledges it, calling your function once per genuine delivery.
//     [Client.OrderQuery] answers "is it paid?" when no notification came.
//
// # Messages and signatures
//
// A v2 message is a flat XML document whose fields are signed with the
// merchant's API key (MD5 or HMAC-SHA256 over the sorted fields). The
// package is built around that fact:
//
//   - [Params] is one message as a field map, decoded from untrusted bytes
//     by the hardened [DecodeXML] and written by [EncodeXML].
//   - [Signer] signs and verifies a Params over every field it holds, so
//     fields this package does not know (new WeChat fields, coupons) are
//     still covered by the signature.
//   - Every answer and payment notification is verified, and checked to
//     name the client's appid and mch_id, before any of its fields is
//     read. Refund notifications carry no signature; see
//     [Client.ParseRefundNotification] for what vouches for them.
//
// # Errors
//
// [*Error] is a FAIL answer from WeChat (errors.As, then Code and
// Retryable); [ErrSignature], [ErrMissingSign], [ErrSignType] and
// [ErrMerchant] name verification failures (errors.Is); [*RequestError]
// is a request refused before it was sent; [*XMLError] and [*FieldError]
// describe malformed input. Transport errors are wrapped, so
// errors.Is(err, context.DeadlineExceeded) works. No error, log line or
// formatted value ever contains the API key.
//
// [Retryable] tells whether calling again with the same request can help.
//
// # Testing
//
// Package github.com/wxpay-go/wxpay/wxpaytest is a fake WeChat Pay (and
// mini-program login) shaped like net/http/httptest: wxpaytest.NewServer
// or wxpaytest.NewTLSServer starts it on loopback, one option connects a
// client to it, and its payer pays orders, so a whole payment, its
// notification and its refund run in a test without WeChat:
//
//	wx := wxpaytest.NewTLSServer(wxpaytest.Config{AppID: appID, MchID: mchID, APIKey: key})
//	defer wx.Close()
//	pay, err := wxpay.NewClient(cfg, wx.ClientOption())
//
// The wxpay command (github.com/wxpay-go/wxpay/cmd/wxpay) runs the same
// fake standalone ("wxpay fake") for projects in any language.
//
// WeChat Pay docs (signing rules): https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3
package wxpay

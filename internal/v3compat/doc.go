// Package v3compat cross-checks package apiv3 against WeChat Pay's
// official Go SDK, github.com/wechatpay-apiv3/wechatpay-go: signatures
// made by one verify with the other, notifications and sensitive fields
// encrypted by one open with the other, and paired benchmarks of the same
// work on both beside a standard-library floor.
//
// It is a separate module so that the root module never lists the
// official SDK among its dependencies; it holds tests only.
package v3compat

module github.com/wxpay-go/wxpay/internal/v3compat

go 1.22

require (
	github.com/wechatpay-apiv3/wechatpay-go v0.2.21
	github.com/wxpay-go/wxpay v0.0.0-00010101000000-000000000000
)

replace github.com/wxpay-go/wxpay => ../..

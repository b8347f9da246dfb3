package shop_test

import (
	"fmt"

	"github.com/wxpay-go/wxpay/examples/shop"
)

func ExampleFormatYuan() {
	fmt.Println(shop.FormatYuan(1800), shop.FormatYuan(5), shop.FormatYuan(123456))
	// Output: ¥18.00 ¥0.05 ¥1234.56
}

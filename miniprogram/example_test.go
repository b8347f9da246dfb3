package miniprogram_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/wxpay-go/wxpay/miniprogram"
	"github.com/wxpay-go/wxpay/wxpaytest"
)

// The login flow: the mini program calls wx.login and posts the code to
// your server, which exchanges it for the user's session. wxpaytest plays
// WeChat here, so the example runs offline.
func ExampleClient_Code2Session() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wx4f4bc4dec97d474b", AppSecret: "0123456789abcdef0123456789abcdef",
		MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d",
	})
	defer wx.Close()

	client, err := miniprogram.NewClient("wx4f4bc4dec97d474b", "0123456789abcdef0123456789abcdef",
		miniprogram.WithBaseURL(wx.URL)) // omit in production: defaults to https://api.weixin.qq.com
	if err != nil {
		fmt.Println(err)
		return
	}

	code := wx.LoginCode("oGZUI0egBJY1zhBYw2KhdUfwVJJE") // what wx.login gave the mini program
	sess, err := client.Code2Session(context.Background(), code)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("openid:", sess.OpenID)
	fmt.Println(sess) // the session key is redacted when printed or logged

	// A code works once; a used or invalid one is a typed *Error.
	_, err = client.Code2Session(context.Background(), code)
	var wxErr *miniprogram.Error
	if errors.As(err, &wxErr) {
		fmt.Println("errcode:", wxErr.Code, "retryable:", wxErr.Retryable())
	}
	// Output:
	// openid: oGZUI0egBJY1zhBYw2KhdUfwVJJE
	// {OpenID:oGZUI0egBJY1zhBYw2KhdUfwVJJE UnionID: SessionKey:[redacted]}
	// errcode: 40163 retryable: false
}

// Decrypting the encryptedData of wx.getUserInfo with the Session from
// Code2Session (kept server-side since login). The inputs are the official
// WXBizDataCrypt demo vector.
func ExampleClient_DecryptUserInfo() {
	client, err := miniprogram.NewClient("wx4f4bc4dec97d474b", "0123456789abcdef0123456789abcdef")
	if err != nil {
		fmt.Println(err)
		return
	}
	// What Code2Session returned for this user at login; the server
	// stored sess.SessionKey.Reveal() and rebuilds the key from it.
	key, err := miniprogram.ParseSessionKey("tiihtNczf5v6AKRyjwEUhQ==")
	if err != nil {
		fmt.Println(err)
		return
	}
	sess := &miniprogram.Session{
		OpenID:     "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
		UnionID:    "ocMvos6NjeKLIBqg5Mr9QjxrP1FA",
		SessionKey: key,
	}
	// What the mini program posted.
	const (
		iv            = "r7BXXKkLb8qrSNn05n0qiA=="
		encryptedData = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
	)
	user, err := client.DecryptUserInfo(sess, encryptedData, iv)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Identify the user by sess.OpenID; the profile is for display.
	fmt.Println(sess.OpenID, user.NickName, user.City)
	fmt.Println("watermark:", user.Watermark.AppID, user.Watermark.Timestamp)

	// The same data decrypted for another app fails the watermark check.
	other, _ := miniprogram.NewClient("wx0000000000000000", "0123456789abcdef0123456789abcdef")
	_, err = other.DecryptUserInfo(sess, encryptedData, iv)
	fmt.Println(errors.Is(err, miniprogram.ErrWatermark))

	// Data the client presents as another user's is rejected: here the
	// session belongs to someone else.
	_, err = client.DecryptUserInfo(&miniprogram.Session{OpenID: "oSomeoneElse", SessionKey: sess.SessionKey}, encryptedData, iv)
	fmt.Println(errors.Is(err, miniprogram.ErrIdentity))
	// Output:
	// oGZUI0egBJY1zhBYw2KhdUfwVJJE Band Guangzhou
	// watermark: wx4f4bc4dec97d474b 1477314187
	// true
	// true
}

// Resolving the code of a phone-number button. The client fetches and
// caches the access token itself. wxpaytest plays WeChat here, so the
// example runs offline.
func ExampleClient_GetPhoneNumber() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wx4f4bc4dec97d474b", AppSecret: "0123456789abcdef0123456789abcdef",
		MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d",
	})
	defer wx.Close()

	client, err := miniprogram.NewClient("wx4f4bc4dec97d474b", "0123456789abcdef0123456789abcdef",
		miniprogram.WithBaseURL(wx.URL)) // omit in production
	if err != nil {
		fmt.Println(err)
		return
	}
	code := wx.PhoneCode("oGZUI0egBJY1zhBYw2KhdUfwVJJE", "13800138000") // what the button gave the mini program
	phone, err := client.GetPhoneNumber(context.Background(), code)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(phone.PurePhoneNumber, phone.CountryCode)

	// Phone codes are single-use; an invalid one is a typed *Error.
	_, err = client.GetPhoneNumber(context.Background(), "used-code")
	var wxErr *miniprogram.Error
	if errors.As(err, &wxErr) {
		fmt.Println(wxErr.Op, wxErr.Code, wxErr.Code == miniprogram.CodeInvalidCode)
	}
	// Output:
	// 13800138000 86
	// getuserphonenumber 40029 true
}

// Getting an access token for a WeChat API this package does not wrap.
// The token is cached and shared; report a rejected one with
// InvalidateAccessToken. wxpaytest plays WeChat here, so the example runs
// offline.
func ExampleClient_AccessToken() {
	wx := wxpaytest.NewServer(wxpaytest.Config{
		AppID: "wx4f4bc4dec97d474b", AppSecret: "0123456789abcdef0123456789abcdef",
		MchID: "10000100", APIKey: "192006250b4c09247ec02edce69f6a2d",
	})
	defer wx.Close()

	client, err := miniprogram.NewClient("wx4f4bc4dec97d474b", "0123456789abcdef0123456789abcdef",
		miniprogram.WithBaseURL(wx.URL)) // omit in production
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	// A token is a secret: never print or log it.
	tok, err := client.AccessToken(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	again, _ := client.AccessToken(ctx)
	fmt.Println("cached:", again == tok)

	// Suppose an API answered errcode 40001 for tok. The next call asks
	// WeChat again, in stable_token's normal mode: it hands back the
	// current token while that is valid, so no other server loses its
	// token.
	client.InvalidateAccessToken(tok)
	fresh, err := client.AccessToken(ctx)
	fmt.Println("refetched:", err == nil && fresh == tok)

	// The client itself is safe to print and log: only the app id shows.
	fmt.Printf("%+v\n", client)
	// Output:
	// cached: true
	// refetched: true
	// miniprogram.Client{AppID:wx4f4bc4dec97d474b}
}

// Checking the rawData signature sent with wx.getUserInfo (official vector).
func ExampleVerifyRawData() {
	rawData := `{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}`
	key, err := miniprogram.ParseSessionKey("HyVFkGl5F5OQWJZZaNzBBg==") // the stored session key
	if err != nil {
		fmt.Println(err)
		return
	}
	err = miniprogram.VerifyRawData(rawData, "75e81ceda165f4ffa64f4068af58c64b8f54b88c", key)
	fmt.Println(err)
	err = miniprogram.VerifyRawData(rawData+" ", "75e81ceda165f4ffa64f4068af58c64b8f54b88c", key)
	fmt.Println(errors.Is(err, miniprogram.ErrSignature))
	// Output:
	// <nil>
	// true
}

// Sessions can be logged directly: LogValue hides the session key.
func ExampleSession_LogValue() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	}))
	key, err := miniprogram.ParseSessionKey("tiihtNczf5v6AKRyjwEUhQ==")
	if err != nil {
		fmt.Println(err)
		return
	}
	sess := miniprogram.Session{OpenID: "oGZUI0egBJY1zhBYw2KhdUfwVJJE", SessionKey: key}
	logger.Info("login", "session", sess)
	// Nested in a value of your own, the key is still hidden, with either
	// handler: it encodes as "[redacted]" and prints as such.
	type login struct {
		User    string
		Session miniprogram.Session
	}
	logger.Info("login", "event", login{User: "alice", Session: sess})
	_ = json.NewEncoder(os.Stdout).Encode(login{User: "alice", Session: sess})
	// Output:
	// level=INFO msg=login session.openid=oGZUI0egBJY1zhBYw2KhdUfwVJJE session.unionid="" session.session_key=[redacted]
	// level=INFO msg=login event="{User:alice Session:{OpenID:oGZUI0egBJY1zhBYw2KhdUfwVJJE UnionID: SessionKey:[redacted]}}"
	// {"User":"alice","Session":{"OpenID":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","UnionID":"","SessionKey":"[redacted]"}}
}

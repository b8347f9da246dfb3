package miniprogram_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/wxpay-go/wxpay/miniprogram"
)

// The official WXBizDataCrypt demo vector (V8 in testdata/), from
// https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html.
const (
	demoAppID         = "wx4f4bc4dec97d474b"
	demoSessionKey    = "tiihtNczf5v6AKRyjwEUhQ=="
	demoIV            = "r7BXXKkLb8qrSNn05n0qiA=="
	demoEncryptedData = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
)

// Decrypting the encryptedData of an open-data API into its JSON, for
// payloads that have no typed helper. The plaintext is returned only once
// its watermark names this app; a client for another app is refused. The
// data is what the user's device sent: identify the user by the Session,
// never by a decrypted field.
func ExampleClient_DecryptData() {
	client, err := miniprogram.NewClient(demoAppID, "0123456789abcdef0123456789abcdef")
	if err != nil {
		log.Fatal(err)
	}
	// The session key was stored server-side at login (Session.SessionKey.Reveal()).
	key, err := miniprogram.ParseSessionKey(demoSessionKey)
	if err != nil {
		log.Fatal(err)
	}
	plain, err := client.DecryptData(key, demoEncryptedData, demoIV)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes, sha256 %x\n", len(plain), sha256.Sum256(plain))
	var data struct {
		NickName  string `json:"nickName"`
		Watermark struct {
			AppID     string `json:"appid"`
			Timestamp int64  `json:"timestamp"`
		} `json:"watermark"`
	}
	if err := json.Unmarshal(plain, &data); err != nil {
		log.Fatal(err)
	}
	fmt.Println(data.NickName, data.Watermark.AppID, data.Watermark.Timestamp)

	// The same ciphertext offered to another mini program's server.
	other, err := miniprogram.NewClient("wx0000000000000000", "0123456789abcdef0123456789abcdef")
	if err != nil {
		log.Fatal(err)
	}
	_, err = other.DecryptData(key, demoEncryptedData, demoIV)
	fmt.Println(errors.Is(err, miniprogram.ErrWatermark))
	// Output:
	// 393 bytes, sha256 3237d8a5dbd413523c194882c7156544d8a06e2afcc97383cc300c17bd09391b
	// Band wx4f4bc4dec97d474b 1477314187
	// true
}

// Keeping a session key server-side between requests: store the text of
// Reveal (in a store only the server reads), and rebuild the key from it
// when the mini program later posts encryptedData. The key never prints.
func ExampleParseSessionKey() {
	stored := demoSessionKey // read back from the server-side store
	key, err := miniprogram.ParseSessionKey(stored)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key, key.Reveal() == stored)

	// A truncated or corrupted stored value is refused, and the error
	// does not quote it.
	_, err = miniprogram.ParseSessionKey("tiihtNczf5v6AKRy")
	fmt.Println(errors.Is(err, miniprogram.ErrBadInput))
	fmt.Println(err)
	// Output:
	// [redacted] true
	// true
	// miniprogram: invalid input: session key must decode to 16 bytes, got 12
}

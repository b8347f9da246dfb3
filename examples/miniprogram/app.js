// The mini-program client of the example server (../server). Set baseURL
// to where the server runs; in WeChat DevTools, "不校验合法域名" (the
// project's urlCheck: false) lets it call http://127.0.0.1 while you try
// it. A published mini-program needs the server's https domain on its
// allowed request domains.
App({
  globalData: {
    baseURL: 'http://127.0.0.1:8080',
    token: '', // the server's JWT, never WeChat's session key
    fake: false, // the server plays WeChat itself (fake mode)
  },
});

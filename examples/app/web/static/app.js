// The browser demo of the example server: it makes the calls the
// mini-program in examples/miniprogram makes, with the fake WeChat (under
// /fake/ on this origin) playing wx.login and wx.requestPayment.
// Every API call goes through api(method, path, ...) with a literal path,
// which is how a test checks each one against openapi.json.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  const state = {
    token: '',
    shop: null,
    cart: new Map(), // goods id -> {id, shop_id, name, price_fen, count}
    cartShop: null, // the shop of everything in the cart: an order comes from one shop
    idemKey: '', // Idempotency-Key of the cart as it is; a change makes a new one
    order: null,
    payment: null,
    polling: 0,
    errorFrom: '', // what showed the error banner: 'poll', or '' for an action
  };

  // locale is the page's language, which formats its dates too.
  const locale = document.documentElement.lang || 'en';

  // ApiError carries the API's error as the API words it.
  class ApiError extends Error {
    constructor(code, message, requestID, status) {
      super(message);
      this.code = code;
      this.requestID = requestID || '';
      this.status = status || 0;
    }
  }

  // yuan formats integer fen as yuan without floating point: 1800 -> ¥18.00.
  function yuan(fen) {
    const f = Math.trunc(Number(fen));
    return '¥' + Math.trunc(f / 100) + '.' + String(f % 100).padStart(2, '0');
  }

  // formatDate writes an API time in the page's language, not the
  // browser's, so that a page that says lang="en" reads in English.
  function formatDate(iso) {
    return new Date(iso).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
  }

  function randomKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  async function readJSON(resp) {
    try {
      return await resp.json();
    } catch (e) {
      return null;
    }
  }

  // api calls the example server, with the JWT once logged in. A failure
  // throws ApiError with the server's {"error": {code, message, request_id}}.
  async function api(method, path, body, headers) {
    const h = Object.assign({ Accept: 'application/json' }, headers || {});
    if (state.token) h.Authorization = 'Bearer ' + state.token;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(path, {
        method: method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      throw new ApiError('network', 'the server did not answer (' + e.message + ')');
    }
    const data = await readJSON(resp);
    if (!resp.ok) {
      const e = data && data.error;
      if (e && typeof e.message === 'string') throw new ApiError(e.code, e.message, e.request_id, resp.status);
      throw new ApiError('http_' + resp.status, 'HTTP ' + resp.status, '', resp.status);
    }
    return data;
  }

  // wechat plays the WeChat client through the fake: POST /fake + path.
  async function wechat(path, body) {
    let resp;
    try {
      resp = await fetch('/fake' + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      throw new ApiError('network', 'the fake WeChat did not answer (' + e.message + ')');
    }
    const data = await readJSON(resp);
    if (!resp.ok) {
      // The fake answers in the API's error shape too.
      const e = data && data.error;
      if (e && typeof e.message === 'string') throw new ApiError(e.code, e.message, e.request_id, resp.status);
      throw new ApiError('wechat', 'HTTP ' + resp.status, '', resp.status);
    }
    return data;
  }

  function showError(e, from) {
    const el = $('error');
    state.errorFrom = e ? from || '' : '';
    if (!e) {
      el.hidden = true;
      el.textContent = '';
      return;
    }
    let text = e instanceof ApiError ? e.code + ': ' + e.message : String(e.message || e);
    if (e.requestID) text += ' (request ' + e.requestID + ')';
    el.textContent = text;
    el.hidden = false;
  }

  // run calls f, showing its error, and disables the button meanwhile.
  async function run(button, f) {
    showError(null);
    if (button) button.disabled = true;
    try {
      await f();
    } catch (e) {
      showError(e);
      if (e.status === 401 && state.token) {
        // The JWT expired (they last 30 minutes): log in again.
        state.token = '';
        $('tabs').hidden = true;
        show('login');
      }
    } finally {
      // The place button stays disabled while the cart is empty.
      if (button) button.disabled = button === $('place') && state.cart.size === 0;
    }
  }

  function el(tag, props, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') n.className = v;
      else if (k === 'onclick') n.addEventListener('click', v);
      else if (k.startsWith('aria-') || k === 'type') n.setAttribute(k, v);
      else n[k] = v;
    }
    for (const c of children) n.append(c);
    return n;
  }

  const titles = {
    login: 'wxpay demo', shops: 'Shops', goods: '', cart: 'Cart', order: 'Order', orders: 'My orders',
  };

  function show(view) {
    for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'view-' + view;
    $('title').textContent = view === 'goods' && state.shop ? state.shop.name : titles[view];
    // A shop's name is in the shop's language, which the page cannot know.
    if (view === 'goods' && state.shop) $('title').lang = '';
    else $('title').removeAttribute('lang');
    $('back').hidden = view !== 'goods';
    for (const b of document.querySelectorAll('#tabs button')) {
      if (b.dataset.view === view) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
    $('main').scrollTop = 0;
  }

  // Logging in: the fake hands out a login code as wx.login would, and
  // the server trades it for a JWT (it keeps WeChat's session key).
  async function login() {
    let openid = '';
    try {
      openid = localStorage.getItem('wxpay-demo-openid') || '';
    } catch (e) { /* storage disabled: a new user each time */ }
    const wx = await wechat('/wxpaytest/login', openid ? { openid: openid } : {});
    try {
      localStorage.setItem('wxpay-demo-openid', wx.openid);
    } catch (e) { /* ignore */ }
    const r = await api('POST', '/users/wxLogin', { code: wx.code });
    state.token = r.token;
    $('who').textContent = 'user ' + r.user_id;
    $('tabs').hidden = false;
    await openShops();
  }

  async function openShops() {
    const page = await api('GET', '/shops?page=1&limit=100');
    const ul = $('shops');
    ul.replaceChildren(...page.items.map((s) => el('li', {},
      el('button', { class: 'row', type: 'button', 'aria-label': 'Shop ' + s.name, onclick: (ev) => run(ev.currentTarget, () => openShop(s)) },
        el('strong', { lang: '' }, s.name), el('small', { lang: '' }, s.address)))));
    show('shops');
  }

  async function openShop(s) {
    const page = await api('GET', `/shops/${s.id}/goods?page=1&limit=100`);
    state.shop = s;
    $('shop-address').textContent = s.address;
    state.goods = page.items;
    renderGoods();
    show('goods');
  }

  function renderGoods() {
    $('goods').replaceChildren(...state.goods.map((g) => {
      const inCart = state.cart.has(g.id) ? state.cart.get(g.id).count : '';
      return el('li', {},
        el('span', { class: 'name', lang: '' }, g.name),
        el('span', { class: 'price' }, yuan(g.price_fen)),
        el('span', { class: 'count', 'aria-label': 'In cart: ' + g.name }, String(inCart)),
        el('button', { class: 'round add', type: 'button', 'aria-label': 'Add ' + g.name, onclick: () => addToCart(g, 1) }, '+'));
    }));
  }

  // addToCart changes the cart. An order comes from one shop (the server
  // refuses others), so goods of a second shop are refused here, before
  // the cart is wrong; any change that is made clears an earlier error.
  function addToCart(g, n) {
    if (n > 0 && state.cartShop && state.cart.size > 0 && g.shop_id !== state.cartShop.id) {
      showError(new ApiError('cart', 'the cart holds goods of ' + state.cartShop.name +
        '; an order comes from one shop: place that order or empty the cart first'));
      return;
    }
    const line = state.cart.get(g.id) || { id: g.id, shop_id: g.shop_id, name: g.name, price_fen: g.price_fen, count: 0 };
    line.count += n;
    if (line.count <= 0) state.cart.delete(g.id);
    else state.cart.set(g.id, line);
    if (state.cart.size === 0) state.cartShop = null;
    else if (!state.cartShop) state.cartShop = { id: g.shop_id, name: state.shop ? state.shop.name : '' };
    state.idemKey = '';
    showError(null);
    renderCart();
    if (state.goods) renderGoods();
  }

  function renderCart() {
    let total = 0;
    let count = 0;
    const lines = [];
    for (const l of state.cart.values()) {
      total += l.price_fen * l.count;
      count += l.count;
      lines.push(el('li', {},
        el('span', { class: 'name', lang: '' }, l.name, el('small', {}, yuan(l.price_fen) + ' × ' + l.count)),
        el('button', { class: 'round', type: 'button', 'aria-label': 'Remove one ' + l.name, onclick: () => addToCart(l, -1) }, '−'),
        el('span', { class: 'count' }, String(l.count)),
        el('button', { class: 'round add', type: 'button', 'aria-label': 'One more ' + l.name, onclick: () => addToCart(l, 1) }, '+')));
    }
    $('cart-lines').replaceChildren(...lines);
    $('cart-empty').hidden = lines.length > 0;
    $('cart-total').textContent = yuan(total);
    $('cart-count').textContent = count ? String(count) : '';
    $('place').disabled = lines.length === 0;
  }

  // Placing the order sends goods ids and counts only: the server prices
  // them. The Idempotency-Key makes a retried click the same order.
  async function placeOrder() {
    if (!state.idemKey) state.idemKey = randomKey();
    const items = Array.from(state.cart.values(), (l) => ({ goods_id: l.id, count: l.count }));
    const o = await api('POST', '/orders', { items: items }, { 'Idempotency-Key': state.idemKey });
    state.cart.clear();
    state.cartShop = null;
    state.idemKey = '';
    renderCart();
    openOrder(o);
  }

  function openOrder(o) {
    stopPolling();
    state.order = o;
    state.payment = null;
    $('payment').hidden = true;
    $('verdict').textContent = '';
    $('verdict').className = 'verdict';
    renderOrder();
    show('order');
  }

  function renderOrder() {
    const o = state.order;
    $('order-id').textContent = String(o.id);
    const st = $('order-status');
    st.textContent = o.status;
    st.className = 'status ' + o.status;
    $('order-lines').replaceChildren(...o.lines.map((l) => el('li', {},
      el('span', { class: 'name', lang: '' }, l.name, el('small', {}, yuan(l.price_fen) + ' × ' + l.count)),
      el('span', { class: 'price' }, yuan(l.subtotal_fen)))));
    $('order-total').textContent = yuan(o.total_fen);
    $('pay').hidden = o.status !== 'unpaid' || state.payment !== null;
    $('confirm').hidden = o.status !== 'unpaid';
  }

  // Paying: the server calls unifiedorder and returns wx.requestPayment's
  // arguments, shown here as the mini-program would receive them.
  async function pay() {
    const r = await api('POST', `/orders/${state.order.id}/pay`);
    state.payment = r.payment;
    $('pay-params').textContent = JSON.stringify(r.payment, null, 1);
    $('confirm').textContent = 'Confirm payment of ' + yuan(state.order.total_fen);
    $('payment').hidden = false;
    renderOrder();
  }

  // Confirming plays the user paying in WeChat: the fake checks paySign
  // as WeChat's server does, and then notifies the server, which marks the
  // order paid; the page polls the order until it has.
  async function confirmPayment() {
    const v = $('verdict');
    try {
      const r = await wechat('/wxpaytest/pay', state.payment);
      v.textContent = r.err_msg + ': WeChat transaction ' + r.transaction_id + '. Waiting for the server to be notified…';
      v.className = 'verdict ok';
    } catch (e) {
      v.textContent = e.message;
      v.className = 'verdict fail';
      return;
    }
    startPolling(state.order.id);
  }

  function stopPolling() {
    if (state.polling) clearTimeout(state.polling);
    state.polling = 0;
  }

  function startPolling(id) {
    stopPolling();
    let tries = 0;
    const tick = async () => {
      state.polling = 0;
      try {
        const o = await api('GET', `/orders/${id}`);
        if (!state.order || state.order.id !== id) return;
        state.order = o;
        renderOrder();
        // The order answers again: an error the polling showed is over.
        if (state.errorFrom === 'poll') showError(null);
        if (o.status !== 'unpaid') {
          $('verdict').textContent += ' Order ' + o.status + '.';
          return;
        }
      } catch (e) {
        showError(e, 'poll');
      }
      if (++tries < 60) state.polling = setTimeout(tick, 1000);
    };
    state.polling = setTimeout(tick, 300);
  }

  async function openOrders() {
    const page = await api('GET', '/orders?page=1&limit=50');
    $('orders-empty').hidden = page.items.length > 0;
    $('orders').replaceChildren(...page.items.map((o) => el('li', {},
      el('button', { class: 'row', type: 'button', 'aria-label': 'Order ' + o.id, onclick: (ev) => run(ev.currentTarget, async () => openOrder(await api('GET', `/orders/${o.id}`))) },
        el('strong', { lang: '' }, o.lines.map((l) => l.name + ' × ' + l.count).join(', ')),
        el('small', {}, formatDate(o.created_at) + ' · ' + yuan(o.total_fen) + ' · ' + o.status)))));
    show('orders');
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('click', (ev) => run(ev.currentTarget, login));
    $('back').addEventListener('click', () => show('shops'));
    $('place').addEventListener('click', (ev) => run(ev.currentTarget, placeOrder));
    $('pay').addEventListener('click', (ev) => run(ev.currentTarget, pay));
    $('confirm').addEventListener('click', (ev) => run(ev.currentTarget, confirmPayment));
    for (const b of document.querySelectorAll('#tabs button')) {
      b.addEventListener('click', (ev) => {
        const view = b.dataset.view;
        stopPolling();
        if (view === 'shops') run(ev.currentTarget, openShops);
        else if (view === 'orders') run(ev.currentTarget, openOrders);
        else {
          renderCart();
          show(view);
        }
      });
    }
    renderCart();
  });
})();

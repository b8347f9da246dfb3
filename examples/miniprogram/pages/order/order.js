// One order: pay it with wx.requestPayment, then wait for the server to
// hear from WeChat that it is paid.
const { api, requestPayment, yuan, errorText } = require('../../utils/api.js');

Page({
  data: { order: null, total: '', payment: '', verdict: '', error: '' },
  timer: 0,

  async onLoad(query) {
    this.id = query.id;
    await this.refresh();
  },

  onUnload() {
    clearTimeout(this.timer);
  },

  async refresh() {
    try {
      const o = await api('GET', `/orders/${this.id}`);
      o.lines = o.lines.map((l) => Object.assign({}, l, { price: yuan(l.price_fen), subtotal: yuan(l.subtotal_fen) }));
      this.setData({ order: o, total: yuan(o.total_fen) });
      return o;
    } catch (e) {
      this.setData({ error: errorText(e) });
      return null;
    }
  },

  // The server calls unifiedorder and answers wx.requestPayment's
  // arguments; paying is between the user and WeChat.
  async pay() {
    try {
      const r = await api('POST', `/orders/${this.id}/pay`);
      this.setData({ payment: JSON.stringify(r.payment, null, 1), error: '' });
      const v = await requestPayment(r.payment);
      this.setData({ verdict: v.errMsg || v.err_msg || 'requestPayment:ok' });
    } catch (e) {
      this.setData({ error: errorText(e) });
      return;
    }
    this.poll(60);
  },

  // WeChat's word reaches the server by its notification: poll the order
  // until the server has it.
  async poll(tries) {
    const o = await this.refresh();
    if (o && o.status === 'unpaid' && tries > 1) {
      this.timer = setTimeout(() => this.poll(tries - 1), 1000);
    }
  },
});

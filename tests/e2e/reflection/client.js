// Proves server reflection with an independent client: Node's @grpc/grpc-js plus the
// grpc-js-reflection-client package, no local .proto file anywhere.
//
//   node client.js TARGET
//
// 1. lists the services and requires both orderquery.v1 services and grpc.health.v1.Health;
// 2. resolves orderquery.v1.OrderQueryService's descriptors through reflection alone;
// 3. calls GetVehicleTransaction(20150806125346, 1900000109) with them and checks the answer;
// 4. the same for TradeOrderService.GetTradeOrder(E01201908230414433510006).
// Exit 0 only when every check holds.
'use strict';
const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const { GrpcReflection } = require('grpc-js-reflection-client');

const target = process.argv[2];
if (!target) {
  console.error('usage: node client.js TARGET');
  process.exit(64);
}
const creds = () => grpc.credentials.createInsecure();
const deadline = () => ({ deadline: Date.now() + 10000 });

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, new grpc.Metadata(), deadline(), (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function main() {
  const reflection = new GrpcReflection(target, creds());

  const services = await reflection.listServices();
  console.log('reflection: services', JSON.stringify(services));
  for (const s of ['orderquery.v1.OrderQueryService', 'orderquery.v1.TradeOrderService', 'grpc.health.v1.Health']) {
    assert.ok(services.includes(s), `reflection does not list ${s}`);
  }

  const methods = (await reflection.listMethods('orderquery.v1.OrderQueryService')).map((m) => m.name);
  console.log('reflection: OrderQueryService methods', JSON.stringify(methods));
  assert.ok(methods.includes('GetVehicleTransaction') && methods.includes('QueryRechargeOrder'));

  // Descriptors (service.proto and everything it imports) come from the server only.
  const loaderOptions = { keepCase: true, longs: String, enums: String, defaults: true };
  const orders = (await reflection.getDescriptorBySymbol('orderquery.v1.OrderQueryService'))
    .getPackageObject(loaderOptions);
  const OrderQueryService = orders.orderquery.v1.OrderQueryService;
  assert.equal(typeof OrderQueryService, 'function', 'no OrderQueryService client from reflection');
  const ordersClient = new OrderQueryService(target, creds());
  const tx = await unary(ordersClient, 'GetVehicleTransaction',
    { out_trade_no: '20150806125346', sub_mchid: '1900000109' });
  console.log(`reflection: GetVehicleTransaction out_trade_no=${tx.out_trade_no} sub_mchid=${tx.sub_mchid} ` +
    `trade_state=${tx.trade_state} total=${tx.amount && tx.amount.total} plate=${tx.parking_info && tx.parking_info.plate_number}`);
  assert.equal(tx.out_trade_no, '20150806125346');
  assert.equal(tx.sub_mchid, '1900000109');
  assert.equal(tx.trade_state, 'SUCCESS');
  assert.equal(tx.amount.total, '888');  // int64 as a string (longs: String)
  assert.equal(tx.transaction_id, '1009660380201506130728806387');
  ordersClient.close();

  const trades = (await reflection.getDescriptorBySymbol('orderquery.v1.TradeOrderService'))
    .getPackageObject(loaderOptions);
  const tradesClient = new trades.orderquery.v1.TradeOrderService(target, creds());
  const tr = await unary(tradesClient, 'GetTradeOrder', { trade_order_id: 'E01201908230414433510006' });
  console.log(`reflection: GetTradeOrder code=${tr.code} id=${tr.data.trade_order_id} goods=${tr.data.goods_desc.length}`);
  assert.equal(tr.code, 0);
  assert.equal(tr.data.trade_order_id, 'E01201908230414433510006');
  assert.equal(tr.data.goods_desc.length, 2);
  tradesClient.close();
  console.log('reflection: OK');
}

main().then(() => process.exit(0), (err) => {
  console.error('reflection: FAILED:', err && err.stack ? err.stack : err);
  process.exit(1);
});

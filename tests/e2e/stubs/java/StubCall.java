// One real call through the generated Java stubs (scripts/gen-stubs), compiled and run against
// Debian's libgrpc-java + libprotobuf-java:
//
//   javac -cp "$(cat $STUBS/java/classpath)" -d classes \
//       $(find $STUBS/java/src -name '*.java') StubCall.java
//   java -cp "classes:$(cat $STUBS/java/classpath)" StubCall TARGET
//
// GetTradeOrder(E01201908230414433510006) must come back as the sandbox's trade order: code 0,
// that id, 1 fen, two goods lines. Exit 0 only then.
import com.orderquery.v1.GetTradeOrderRequest;
import com.orderquery.v1.GetTradeOrderResponse;
import com.orderquery.v1.TradeOrderServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.concurrent.TimeUnit;

public final class StubCall {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: StubCall TARGET");
      System.exit(64);
    }
    ManagedChannel channel = ManagedChannelBuilder.forTarget(args[0]).usePlaintext().build();
    int exit = 1;
    try {
      GetTradeOrderResponse r = TradeOrderServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .getTradeOrder(GetTradeOrderRequest.newBuilder()
              .setTradeOrderId("E01201908230414433510006").build());
      System.out.printf("java: code=%d msg=%s trade_order_id=%s amount=%d goods=%d first=%s%n",
          r.getCode(), r.getMsg(), r.getData().getTradeOrderId(), r.getData().getAmount(),
          r.getData().getGoodsDescCount(),
          r.getData().getGoodsDescCount() > 0 ? r.getData().getGoodsDesc(0).getGoodsName() : "");
      if (r.getCode() == 0 && r.getData().getTradeOrderId().equals("E01201908230414433510006")
          && r.getData().getAmount() == 1 && r.getData().getGoodsDescCount() == 2) {
        exit = 0;
      } else {
        System.err.println("java: unexpected answer:\n" + r);
      }
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    System.exit(exit);
  }
}

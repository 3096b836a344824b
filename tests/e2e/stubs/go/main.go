// One real call through the generated Go stubs (scripts/gen-stubs), built in GOPATH mode
// against Debian's golang-google-grpc-dev:
//
//	GO111MODULE=off GOPATH=$STUBS/go:/usr/share/gocode go build -o call main.go
//	./call TARGET
//
// GetVehicleTransaction(20150806125346, 1900000109) must come back as the sandbox's parking
// transaction: that order number, sub-merchant, SUCCESS and 888 fen. Exit 0 only then.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"

	orderqueryv1 "orderquery/gen/go/orderquery/v1"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: call TARGET")
		os.Exit(64)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, os.Args[1], grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fmt.Fprintln(os.Stderr, "go: dial:", err)
		os.Exit(1)
	}
	defer conn.Close()
	client := orderqueryv1.NewOrderQueryServiceClient(conn)
	tx, err := client.GetVehicleTransaction(ctx, &orderqueryv1.GetVehicleTransactionRequest{
		OutTradeNo: "20150806125346", SubMchid: "1900000109"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "go: GetVehicleTransaction:", err)
		os.Exit(1)
	}
	fmt.Printf("go: out_trade_no=%s sub_mchid=%s trade_state=%s total=%d plate=%s\n",
		tx.GetOutTradeNo(), tx.GetSubMchid(), tx.GetTradeState(), tx.GetAmount().GetTotal(),
		tx.GetParkingInfo().GetPlateNumber())
	if tx.GetOutTradeNo() != "20150806125346" || tx.GetSubMchid() != "1900000109" ||
		tx.GetTradeState() != orderqueryv1.VehicleTransaction_SUCCESS || tx.GetAmount().GetTotal() != 888 {
		fmt.Fprintf(os.Stderr, "go: unexpected answer: %v\n", tx)
		os.Exit(1)
	}
}

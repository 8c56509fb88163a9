`default_nettype none
// axis_fork: one AXI-Stream in, the same beats out on two streams (the fork of a residual block).
//
// A beat leaves on both outputs; each output may take it in a different cycle. sent0/sent1 remember
// which output already took the current beat, so an output that stalls never makes the other one see
// the beat twice; the input beat is accepted in the cycle its last outstanding output takes it.
// m*_axis_tvalid follow s_axis_tvalid (combinational, no register): latency 0, one beat per cycle
// when both consumers are ready. Each m*_tvalid stays high until its transfer (it drops only after
// that output took the beat), as AXI-Stream requires.
module axis_fork #(
    parameter integer WIDTH = 8
) (
    input  wire             clk,
    input  wire             rst_n,
    input  wire [WIDTH-1:0] s_axis_tdata,
    input  wire             s_axis_tvalid,
    output wire             s_axis_tready,
    output wire [WIDTH-1:0] m0_axis_tdata,
    output wire             m0_axis_tvalid,
    input  wire             m0_axis_tready,
    output wire [WIDTH-1:0] m1_axis_tdata,
    output wire             m1_axis_tvalid,
    input  wire             m1_axis_tready
);
    reg sent0, sent1;  // this output already took the current input beat

    wire done0 = sent0 || m0_axis_tready;
    wire done1 = sent1 || m1_axis_tready;

    assign s_axis_tready  = done0 && done1;
    assign m0_axis_tdata  = s_axis_tdata;
    assign m1_axis_tdata  = s_axis_tdata;
    assign m0_axis_tvalid = s_axis_tvalid && !sent0;
    assign m1_axis_tvalid = s_axis_tvalid && !sent1;

    always @(posedge clk) begin
        if (!rst_n) begin
            sent0 <= 1'b0;
            sent1 <= 1'b0;
        end else if (s_axis_tvalid && s_axis_tready) begin
            sent0 <= 1'b0;  // the beat has gone out on both: the next one is new to both
            sent1 <= 1'b0;
        end else begin
            sent0 <= sent0 || (m0_axis_tvalid && m0_axis_tready);
            sent1 <= sent1 || (m1_axis_tvalid && m1_axis_tready);
        end
    end
endmodule
`default_nettype wire

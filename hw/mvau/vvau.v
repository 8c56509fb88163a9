`default_nettype none
// vvau: depthwise (vector-vector) unit, weights in a ROM, AXI-Stream in and out.
//
// One output per channel and window: y[c] = sum_k op(x[k][c], W[c][k]) for c < CH, k < K2 (the K*K window
// positions), exactly, in ACC_BITS two's complement (the caller guarantees the result fits). op is the
// MVAU's (MODE as in hw/mvau/mvau.v: 0 XNOR, 1 MAC, 2 BIPOLAR_W, 3 ADDER, 4 BIPOLAR_X), one lane of
// mvau_dot per channel lane (hw/mvau/mvau_dot.v, compiled with this file).
//
// Folding: SIMD channels per beat, CF = CH/SIMD channel folds.
//   input beat  : a window arrives in the sliding-window generator's order, position-major: beat k*CF + cf
//                 holds x[k][cf*SIMD + s] at bits [s*IN_BITS +: IN_BITS]
//   output beat : SIMD signed accumulators, channel c = cf*SIMD + s at bits [s*ACC_BITS +: ACC_BITS]
//   weight ROM  : $readmemh(WEIGHT_FILE), depth K2*CF, word k*CF + cf, width SIMD*W_BITS,
//                 W[cf*SIMD+s][k] at bits [s*W_BITS +: W_BITS]
//
// Dataflow: one input beat per cycle, no buffering of the window: the issue stage registers the beat and its
// ROM word; stage 1 adds the SIMD lane terms to the CF partial sums (a CF-word memory, read and written in
// the same cycle) and, at the last position, writes the finished beat into a 4-deep output queue. A credit
// counter lets a last-position beat issue only when its queue slot is guaranteed, so s_axis_tready depends
// on registers only and the pipeline never stalls.
// Timing (no stalls): K2*CF cycles per window; the output beat of channel fold cf is valid 2 cycles after the
// input beat (K2-1, cf) was accepted.
module vvau #(
    parameter integer CH        = 8,
    parameter integer K2        = 9,
    parameter integer SIMD      = 2,
    parameter integer MODE      = 1,
    parameter integer IN_BITS   = 4,
    parameter integer IN_SIGNED = 0,
    parameter integer W_BITS    = 4,
    parameter integer ACC_BITS  = 12,
    parameter         WEIGHT_FILE = "weights.mem"
) (
    input  wire                     clk,
    input  wire                     rst_n,
    input  wire [SIMD*IN_BITS-1:0]  s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,
    output wire [SIMD*ACC_BITS-1:0] m_axis_tdata,
    output wire                     m_axis_tvalid,
    input  wire                     m_axis_tready
);
    function integer imax;
        input integer a, b;
        begin
            imax = (a > b) ? a : b;
        end
    endfunction

    localparam integer CF     = CH / SIMD;
    localparam integer DEPTH  = K2 * CF;
    localparam integer WWIDTH = SIMD * W_BITS;
    localparam integer AWIDTH = SIMD * ACC_BITS;
    localparam integer CFW    = imax($clog2(CF), 1);
    localparam integer KW     = imax($clog2(K2), 1);
    localparam integer AW     = imax($clog2(DEPTH), 1);

    function [ACC_BITS-1:0] to_acc;  // a non-negative integer as an ACC_BITS constant
        input integer v;
        integer k;
        begin
            for (k = 0; k < ACC_BITS; k = k + 1) to_acc[k] = ((v >> k) % 2) != 0;
        end
    endfunction

    localparam [ACC_BITS-1:0] K2C = to_acc(K2);

    generate
        if (CH % SIMD != 0 || SIMD < 1 || K2 < 1 || MODE < 0 || MODE > 4) begin : g_bad_params
            initial begin
                $display("ERROR: vvau: SIMD=%0d must divide CH=%0d, K2=%0d >= 1, MODE=%0d in 0..4", SIMD, CH, K2, MODE);
                $finish;
            end
        end
    endgenerate

    // ------------------------------------------------------------------ issue stage
    reg  [CFW-1:0] cf;
    reg  [KW-1:0]  pos;
    reg  [AW-1:0]  waddr;           // pos*CF + cf
    reg  [2:0]     q_ip, q_wp, q_rp; // output beats issued (credits taken) / written / read, mod 8

    wire cf_last   = (cf == CF[CFW-1:0] - 1'b1);
    wire pos_last  = (pos == K2[KW-1:0] - 1'b1);
    wire q_full    = ((q_ip ^ q_rp) == 3'b100);
    wire credit_ok = !pos_last || !q_full;
    wire issue     = s_axis_tvalid && credit_ok;

    assign s_axis_tready = credit_ok;

    always @(posedge clk) begin
        if (!rst_n) begin
            cf    <= {CFW{1'b0}};
            pos   <= {KW{1'b0}};
            waddr <= {AW{1'b0}};
            q_ip  <= 3'd0;
        end else if (issue) begin
            cf    <= cf_last ? {CFW{1'b0}} : cf + 1'b1;
            if (cf_last) pos <= pos_last ? {KW{1'b0}} : pos + 1'b1;
            waddr <= (cf_last && pos_last) ? {AW{1'b0}} : waddr + 1'b1;
            if (pos_last) q_ip <= q_ip + 3'd1;
        end
    end

    reg                    v1, first1, last1;
    reg  [CFW-1:0]         cf1;
    reg  [SIMD*IN_BITS-1:0] x1;
    wire [WWIDTH-1:0]      w1;

    always @(posedge clk) begin
        if (!rst_n) v1 <= 1'b0;
        else        v1 <= issue;
        if (issue) begin
            first1 <= (pos == {KW{1'b0}});
            last1  <= pos_last;
            cf1    <= cf;
            x1     <= s_axis_tdata;
        end
    end

    generate
        if (DEPTH > 1) begin : g_wrom
            wire [WWIDTH-1:0] wq;
            qflow_rom #(
                .WIDTH(WWIDTH),
                .DEPTH(DEPTH),
                .AW(AW),
                .INIT_FILE(WEIGHT_FILE)
            ) u_rom (
                .clk(clk),
                .en(issue),
                .addr(waddr),
                .q(wq)
            );
            assign w1 = wq;
        end else begin : g_wconst
            // a single ROM word: constant weights, folded into the logic by synthesis
            reg [WWIDTH-1:0] wrom [0:0];
            initial $readmemh(WEIGHT_FILE, wrom);
            assign w1 = wrom[0];
            wire _unused_waddr = &{1'b0, waddr, 1'b0};
        end
    endgenerate

    // ------------------------------------------------------------------ stage 1: lane terms, partial sums
    wire [AWIDTH-1:0] prev;   // the partial sums of channel fold cf1 (zero at the first position)
    wire [AWIDTH-1:0] nxt;
    wire [AWIDTH-1:0] beat;

    generate
        if (CF > 1) begin : g_accmem
            reg [AWIDTH-1:0] accm [0:CF-1];
            always @(posedge clk) begin
                if (v1) accm[cf1] <= nxt;
            end
            assign prev = first1 ? {AWIDTH{1'b0}} : accm[cf1];
        end else begin : g_accreg
            reg [AWIDTH-1:0] acc;
            always @(posedge clk) begin
                if (v1) acc <= nxt;
            end
            assign prev = first1 ? {AWIDTH{1'b0}} : acc;
            wire _unused_cf1 = &{1'b0, cf1, 1'b0};
        end
    endgenerate

    genvar s;
    generate
        for (s = 0; s < SIMD; s = s + 1) begin : g_lane
            wire [ACC_BITS-1:0] term;
            mvau_dot #(
                .SIMD(1), .MODE(MODE), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS),
                .ACC_BITS(ACC_BITS)
            ) u_term (
                .x(x1[s*IN_BITS +: IN_BITS]),
                .w(w1[s*W_BITS +: W_BITS]),
                .dot(term)
            );
            assign nxt[s*ACC_BITS +: ACC_BITS] = prev[s*ACC_BITS +: ACC_BITS] + term;
            if (MODE == 0) begin : g_bip_out
                // popcount -> sum of +-1 values: 2*pop - K2 (mod 2^ACC_BITS)
                assign beat[s*ACC_BITS +: ACC_BITS] = {nxt[s*ACC_BITS +: ACC_BITS-1], 1'b0} - K2C;
                wire _unused_msb = &{1'b0, nxt[s*ACC_BITS + ACC_BITS-1], 1'b0};
            end else begin : g_int_out
                assign beat[s*ACC_BITS +: ACC_BITS] = nxt[s*ACC_BITS +: ACC_BITS];
            end
        end
    endgenerate

    // ------------------------------------------------------------------ output queue (4 beats)
    reg [AWIDTH-1:0] q_mem [0:3];

    always @(posedge clk) begin
        if (v1 && last1) q_mem[q_wp[1:0]] <= beat;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            q_wp <= 3'd0;
            q_rp <= 3'd0;
        end else begin
            if (v1 && last1) q_wp <= q_wp + 3'd1;
            if (m_axis_tvalid && m_axis_tready) q_rp <= q_rp + 3'd1;
        end
    end

    assign m_axis_tvalid = (q_wp != q_rp);
    assign m_axis_tdata  = q_mem[q_rp[1:0]];
endmodule
`default_nettype wire

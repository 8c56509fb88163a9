`default_nettype none
// mvau: matrix-vector unit (no activation), weights in a ROM, AXI-Stream in and out.
//
// Computes y[c] = sum_i op(x[i], W[c][i]) for c < MH, i < MW, exactly, in ACC_BITS two's complement
// (the caller guarantees the result fits; partial sums may wrap, the final value is exact mod 2^ACC_BITS).
//
// Folding: NF = MH/PE neuron folds, SF = MW/SIMD synapse folds. One (nf, sf) step per cycle.
//   input beat  : SIMD elements of IN_BITS, element i = sf*SIMD + s at bits [s*IN_BITS +: IN_BITS]
//   output beat : PE signed accumulators of ACC_BITS, channel c = nf*PE + p at bits [p*ACC_BITS +: ACC_BITS]
//   weight ROM  : $readmemh(WEIGHT_FILE), depth NF*SF, word nf*SF + sf, width PE*SIMD*W_BITS,
//                 W[nf*PE+p][sf*SIMD+s] at bits [(p*SIMD+s)*W_BITS +: W_BITS]
// MODE:
//   0 XNOR      : x, w 1-bit bipolar (1 = +1, 0 = -1), y = 2*popcount(xnor) - MW
//   1 MAC       : x IN_BITS (signed if IN_SIGNED), w W_BITS signed, y = sum x*w
//   2 BIPOLAR_W : w 1-bit bipolar, x as in MAC, y = sum (w ? x : -x)
//   3 ADDER     : x as in MAC, w W_BITS signed, y = -sum |x - w|
//   4 BIPOLAR_X : x 1-bit bipolar, w W_BITS signed, y = sum (x ? w : -w)
//
// Dataflow: the stream is read once per vector, during fold nf = 0; the beats are stored in an input
// buffer (SF words, only when NF > 1) that folds nf > 0 read back. The issue stage registers the input
// word and the ROM word; stage 1 computes the PE x SIMD terms and their sums (one mvau_dot per PE, see
// hw/mvau/mvau_dot.v, or mvau_tree.v when pipelined; both must be compiled with this file), accumulates
// over the SF steps and writes each finished output beat into a QD-deep output queue. A credit counter lets the last step of a fold
// issue only when its queue slot is guaranteed, so the pipeline never stalls and s_axis_tready depends
// on registers only (no combinational path from m_axis_tready to s_axis_tready).
//
// Register stages (for Fmax; each adds a cycle of latency, never a cycle per vector):
//   IN_REG = 1 : one more register after the issue stage, on the weight ROM's output (the block-RAM read
//                data leaves the RAM in one cycle and reaches the logic in the next) and the input word;
//   FANIN >= 2 : (FANIN < SIMD) the SIMD-wide sum is a tree of FANIN-input sums with a register after each
//                level but the last (hw/mvau/mvau_tree.v): TREE_REGS = ceil(log_FANIN(SIMD)) - 1 stages.
//   TERM_REG=1 : (with FANIN >= 2) every term registered before the tree (a product on a DSP slice gets a
//                cycle of its own, also with one lane): one more stage.
//   FANIN = 0 (or >= SIMD without TERM_REG): the whole sum in the accumulate cycle (mvau_dot).
// The control flags follow the data through the same number of registers, and the output queue is deep
// enough (QD) for the extra beats in flight, so the credit rule still never stalls the pipeline.
//
// Timing (no stalls), with E = IN_REG + TREE_REGS: one vector every NF*SF cycles. If the input beat
// (nf=0, sf=SF-1) of a vector is accepted in cycle t, output beat nf of that vector is valid in cycle
// t + nf*SF + 2 + E; a vector whose first beat is accepted in cycle t0 has its last output beat valid in
// cycle t0 + NF*SF + 1 + E. Fully parallel (PE=MH, SIMD=MW): one vector per cycle, output valid 2 + E cycles
// after the input beat.
module mvau #(
    parameter integer MW        = 8,
    parameter integer MH        = 4,
    parameter integer PE        = 2,
    parameter integer SIMD      = 4,
    parameter integer MODE      = 1,
    parameter integer IN_BITS   = 4,
    parameter integer IN_SIGNED = 0,
    parameter integer W_BITS    = 4,
    parameter integer ACC_BITS  = 16,
    parameter integer IN_REG    = 0,
    parameter integer FANIN     = 0,
    parameter integer TERM_REG  = 0,
    parameter         WEIGHT_FILE = "weights.mem"
) (
    input  wire                     clk,
    input  wire                     rst_n,
    input  wire [SIMD*IN_BITS-1:0]  s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,
    output wire [PE*ACC_BITS-1:0]   m_axis_tdata,
    output wire                     m_axis_tvalid,
    input  wire                     m_axis_tready
);
    // ------------------------------------------------------------------ constants
    function integer imax;
        input integer a, b;
        begin
            imax = (a > b) ? a : b;
        end
    endfunction

    localparam integer NF     = MH / PE;
    localparam integer SF     = MW / SIMD;
    localparam integer DEPTH  = NF * SF;
    localparam integer WWIDTH = PE * SIMD * W_BITS;
    localparam integer XWIDTH = SIMD * IN_BITS;
    localparam integer NFW    = imax($clog2(NF), 1);
    localparam integer SFW    = imax($clog2(SF), 1);
    localparam integer AW     = imax($clog2(DEPTH), 1);

    function [ACC_BITS-1:0] to_acc;  // a non-negative integer as an ACC_BITS constant (may exceed 32 bits)
        input integer v;
        integer k;
        begin
            for (k = 0; k < ACC_BITS; k = k + 1) to_acc[k] = ((v >> k) % 2) == 1;
        end
    endfunction

    localparam [ACC_BITS-1:0] MWC = to_acc(MW);

    // register stages (see the header): the tree's levels as in mvau_tree.v
    function integer tree_regs;
        input integer simd, fanin, term_reg;
        integer n, r;
        begin
            n = simd;
            r = (fanin >= 2 && term_reg != 0) ? 1 : 0;  // the terms' own register
            if (fanin >= 2) begin
                while (n > fanin) begin  // terminates: n shrinks by a factor >= 2 per level
                    n = (n + fanin - 1) / fanin;
                    r = r + 1;
                end
            end
            tree_regs = r;
        end
    endfunction

    localparam integer PIPED = (FANIN >= 2 && (FANIN < SIMD || TERM_REG != 0)) ? 1 : 0;
    localparam integer E     = (IN_REG != 0 ? 1 : 0) + tree_regs(SIMD, FANIN, TERM_REG);
    // output queue: beats in flight from issue to queue read are 2 + E, so QD >= E + 3 keeps the credit
    // rule from ever holding an issue (4 = the original depth, enough for E <= 1)
    localparam integer QD    = (E <= 1) ? 4 : (1 << $clog2(E + 3));
    localparam integer QW    = $clog2(QD);

    // ------------------------------------------------------------------ parameter checks
    generate
        if (MH % PE != 0 || MW % SIMD != 0 || PE < 1 || SIMD < 1) begin : g_bad_fold
            initial begin
                $display("ERROR: mvau: PE=%0d must divide MH=%0d and SIMD=%0d must divide MW=%0d",
                         PE, MH, SIMD, MW);
                $finish;
            end
        end
        if (FANIN == 1 || FANIN < 0 || (IN_REG != 0 && IN_REG != 1) || (TERM_REG != 0 && (TERM_REG != 1 || FANIN < 2)))
        begin : g_bad_pipe
            initial begin
                $display("ERROR: mvau: FANIN=%0d IN_REG=%0d TERM_REG=%0d, expected FANIN 0 or >= 2, IN_REG 0 or 1, TERM_REG 0 or 1 (1 needs FANIN >= 2)",
                         FANIN, IN_REG, TERM_REG);
                $finish;
            end
        end
        if (MODE < 0 || MODE > 4) begin : g_bad_mode
            initial begin
                $display("ERROR: mvau: MODE=%0d, expected 0 (XNOR), 1 (MAC), 2 (BIPOLAR_W), 3 (ADDER) or 4 (BIPOLAR_X)",
                         MODE);
                $finish;
            end
        end
        if (((MODE == 0 || MODE == 4) && IN_BITS != 1) || ((MODE == 0 || MODE == 2) && W_BITS != 1)) begin : g_bad_bits
            initial begin
                $display("ERROR: mvau: MODE=%0d needs W_BITS=1 (XNOR, BIPOLAR_W) and IN_BITS=1 (XNOR, BIPOLAR_X), got W_BITS=%0d IN_BITS=%0d",
                         MODE, W_BITS, IN_BITS);
                $finish;
            end
        end
    endgenerate

    // ------------------------------------------------------------------ issue stage
    reg  [NFW-1:0] nf;
    reg  [SFW-1:0] sf;
    reg  [AW-1:0]  waddr;          // nf*SF + sf
    reg  [QW:0]    q_ip;           // output beats issued (credits taken), mod 2*QD
    reg  [QW:0]    q_wp;           // output beats written into the queue
    reg  [QW:0]    q_rp;           // output beats read from the queue

    wire sf_last   = (sf == SF[SFW-1:0] - 1'b1);
    wire nf_first  = (nf == {NFW{1'b0}});
    wire nf_last   = (nf == NF[NFW-1:0] - 1'b1);
    wire q_full    = ((q_ip ^ q_rp) == {1'b1, {QW{1'b0}}});  // QD credits taken, none returned
    wire credit_ok = !sf_last || !q_full;
    wire issue     = credit_ok && (!nf_first || s_axis_tvalid);

    assign s_axis_tready = nf_first && credit_ok;

    always @(posedge clk) begin
        if (!rst_n) begin
            nf    <= {NFW{1'b0}};
            sf    <= {SFW{1'b0}};
            waddr <= {AW{1'b0}};
            q_ip  <= {(QW+1){1'b0}};
        end else if (issue) begin
            if (sf_last) begin
                sf   <= {SFW{1'b0}};
                nf   <= nf_last ? {NFW{1'b0}} : nf + 1'b1;
                q_ip <= q_ip + 1'b1;
            end else begin
                sf <= sf + 1'b1;
            end
            waddr <= (sf_last && nf_last) ? {AW{1'b0}} : waddr + 1'b1;
        end
    end

    // stage-1 registers
    reg              v1, first1, last1;
    reg [XWIDTH-1:0] x1;
    wire [WWIDTH-1:0] w1;

    always @(posedge clk) begin
        if (!rst_n) begin
            v1 <= 1'b0;
        end else begin
            v1 <= issue;
        end
        if (issue) begin
            first1 <= (sf == {SFW{1'b0}});
            last1  <= sf_last;
        end
    end

    generate
        if (NF > 1) begin : g_ibuf
            reg [XWIDTH-1:0] ibuf [0:SF-1];
            always @(posedge clk) begin
                if (issue) begin
                    if (nf_first) begin
                        ibuf[sf] <= s_axis_tdata;
                        x1       <= s_axis_tdata;
                    end else begin
                        x1 <= ibuf[sf];
                    end
                end
            end
        end else begin : g_noibuf
            always @(posedge clk) begin
                if (issue) x1 <= s_axis_tdata;
            end
        end

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

    // ------------------------------------------------------------------ register stages (IN_REG, FANIN)
    // xa/wa: the dot product's operands (stage 1, or one register later); vb/firstb/lastb: the flags of the
    // step whose sum reaches the accumulator, E cycles after stage 1
    wire [XWIDTH-1:0] xa;
    wire [WWIDTH-1:0] wa;
    wire              vb, firstb, lastb;

    generate
        if (IN_REG != 0) begin : g_in_reg
            reg [XWIDTH-1:0] x2;
            reg [WWIDTH-1:0] w2;
            always @(posedge clk) begin
                x2 <= x1;
                w2 <= w1;
            end
            assign xa = x2;
            assign wa = w2;
        end else begin : g_no_in_reg
            assign xa = x1;
            assign wa = w1;
        end

        if (E > 0) begin : g_flags
            reg [E-1:0] v_d, first_d, last_d;  // bit k: the flag k+1 cycles after stage 1
            integer k;
            always @(posedge clk) begin
                if (!rst_n) v_d <= {E{1'b0}};
                else begin
                    v_d[0] <= v1;
                    for (k = 1; k < E; k = k + 1) v_d[k] <= v_d[k-1];
                end
                first_d[0] <= first1;
                last_d[0]  <= last1;
                for (k = 1; k < E; k = k + 1) begin
                    first_d[k] <= first_d[k-1];
                    last_d[k]  <= last_d[k-1];
                end
            end
            assign vb     = v_d[E-1];
            assign firstb = first_d[E-1];
            assign lastb  = last_d[E-1];
        end else begin : g_no_flags
            assign vb     = v1;
            assign firstb = first1;
            assign lastb  = last1;
        end
    endgenerate

    // ------------------------------------------------------------------ terms, sum, accumulate
    // dot[p]: sum over the SIMD lanes of this step, mod 2^ACC_BITS (one mvau_dot or mvau_tree per PE)
    wire [PE*ACC_BITS-1:0] dot;
    wire [PE*ACC_BITS-1:0] beat;

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            if (PIPED != 0) begin : g_tree
                mvau_tree #(
                    .SIMD(SIMD), .MODE(MODE), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS),
                    .ACC_BITS(ACC_BITS), .FANIN(FANIN), .TERM_REG(TERM_REG)
                ) u_dot (
                    .clk(clk),
                    .x(xa),
                    .w(wa[p*SIMD*W_BITS +: SIMD*W_BITS]),
                    .dot(dot[p*ACC_BITS +: ACC_BITS])
                );
            end else begin : g_comb
                mvau_dot #(
                    .SIMD(SIMD), .MODE(MODE), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS),
                    .ACC_BITS(ACC_BITS)
                ) u_dot (
                    .x(xa),
                    .w(wa[p*SIMD*W_BITS +: SIMD*W_BITS]),
                    .dot(dot[p*ACC_BITS +: ACC_BITS])
                );
            end

            reg  [ACC_BITS-1:0] acc;
            wire [ACC_BITS-1:0] nxt = (firstb ? {ACC_BITS{1'b0}} : acc) + dot[p*ACC_BITS +: ACC_BITS];
            always @(posedge clk) begin
                if (vb) acc <= nxt;
            end
            if (MODE == 0) begin : g_bip_out
                // popcount -> sum of +-1 values: 2*pop - MW (mod 2^ACC_BITS)
                assign beat[p*ACC_BITS +: ACC_BITS] = {nxt[ACC_BITS-2:0], 1'b0} - MWC;
                wire _unused_msb = &{1'b0, nxt[ACC_BITS-1], 1'b0};
            end else begin : g_int_out
                assign beat[p*ACC_BITS +: ACC_BITS] = nxt;
            end
        end
    endgenerate

    // ------------------------------------------------------------------ output queue (QD beats)
    reg [PE*ACC_BITS-1:0] q_mem [0:QD-1];

    always @(posedge clk) begin
        if (vb && lastb) q_mem[q_wp[QW-1:0]] <= beat;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            q_wp <= {(QW+1){1'b0}};
            q_rp <= {(QW+1){1'b0}};
        end else begin
            if (vb && lastb) q_wp <= q_wp + 1'b1;
            if (m_axis_tvalid && m_axis_tready) q_rp <= q_rp + 1'b1;
        end
    end

    assign m_axis_tvalid = (q_wp != q_rp);
    assign m_axis_tdata  = q_mem[q_rp[QW-1:0]];
endmodule
`default_nettype wire

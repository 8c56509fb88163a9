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
// hw/mvau/mvau_dot.v, which must be compiled with this file), accumulates over the SF steps and writes
// each finished output beat into a 4-deep output queue. A credit counter lets the last step of a fold
// issue only when its queue slot is guaranteed, so the pipeline never stalls and s_axis_tready depends
// on registers only (no combinational path from m_axis_tready to s_axis_tready).
//
// Timing (no stalls): one vector every NF*SF cycles. If the input beat (nf=0, sf=SF-1) of a vector is
// accepted in cycle t, output beat nf of that vector is valid in cycle t + nf*SF + 2; a vector whose first
// beat is accepted in cycle t0 has its last output beat valid in cycle t0 + NF*SF + 1.
// Fully parallel (PE=MH, SIMD=MW): one vector per cycle, output valid 2 cycles after the input beat.
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

    // ------------------------------------------------------------------ parameter checks
    generate
        if (MH % PE != 0 || MW % SIMD != 0 || PE < 1 || SIMD < 1) begin : g_bad_fold
            initial begin
                $display("ERROR: mvau: PE=%0d must divide MH=%0d and SIMD=%0d must divide MW=%0d",
                         PE, MH, SIMD, MW);
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
    reg  [2:0]     q_ip;           // output beats issued (credits taken), mod 8
    reg  [2:0]     q_wp;           // output beats written into the queue
    reg  [2:0]     q_rp;           // output beats read from the queue

    wire sf_last   = (sf == SF[SFW-1:0] - 1'b1);
    wire nf_first  = (nf == {NFW{1'b0}});
    wire nf_last   = (nf == NF[NFW-1:0] - 1'b1);
    wire q_full    = ((q_ip ^ q_rp) == 3'b100);          // 4 credits taken, none returned
    wire credit_ok = !sf_last || !q_full;
    wire issue     = credit_ok && (!nf_first || s_axis_tvalid);

    assign s_axis_tready = nf_first && credit_ok;

    always @(posedge clk) begin
        if (!rst_n) begin
            nf    <= {NFW{1'b0}};
            sf    <= {SFW{1'b0}};
            waddr <= {AW{1'b0}};
            q_ip  <= 3'd0;
        end else if (issue) begin
            if (sf_last) begin
                sf   <= {SFW{1'b0}};
                nf   <= nf_last ? {NFW{1'b0}} : nf + 1'b1;
                q_ip <= q_ip + 3'd1;
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
            reg [WWIDTH-1:0] wrom [0:DEPTH-1];
            reg [WWIDTH-1:0] wq;
            initial $readmemh(WEIGHT_FILE, wrom);
            always @(posedge clk) begin
                if (issue) wq <= wrom[waddr];
            end
            assign w1 = wq;
        end else begin : g_wconst
            // a single ROM word: constant weights, folded into the logic by synthesis
            reg [WWIDTH-1:0] wrom [0:0];
            initial $readmemh(WEIGHT_FILE, wrom);
            assign w1 = wrom[0];
            wire _unused_waddr = &{1'b0, waddr, 1'b0};
        end
    endgenerate

    // ------------------------------------------------------------------ stage 1: terms, sum, accumulate
    // dot[p]: sum over the SIMD lanes of this step, mod 2^ACC_BITS (one mvau_dot per PE)
    wire [PE*ACC_BITS-1:0] dot;
    wire [PE*ACC_BITS-1:0] beat;

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            mvau_dot #(
                .SIMD(SIMD), .MODE(MODE), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS),
                .ACC_BITS(ACC_BITS)
            ) u_dot (
                .x(x1),
                .w(w1[p*SIMD*W_BITS +: SIMD*W_BITS]),
                .dot(dot[p*ACC_BITS +: ACC_BITS])
            );

            reg  [ACC_BITS-1:0] acc;
            wire [ACC_BITS-1:0] nxt = (first1 ? {ACC_BITS{1'b0}} : acc) + dot[p*ACC_BITS +: ACC_BITS];
            always @(posedge clk) begin
                if (v1) acc <= nxt;
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

    // ------------------------------------------------------------------ output queue (4 beats)
    reg [PE*ACC_BITS-1:0] q_mem [0:3];

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

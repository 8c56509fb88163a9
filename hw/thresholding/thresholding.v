`default_nettype none
// thresholding: multi-threshold activation, thresholds in a ROM, AXI-Stream in and out.
//
// For channel c with thresholds T[c][0..N_THRESH-1] (signed IN_BITS) and direction flag F[c]:
//   y = OUT_BIAS + #{t : x >= T[c][t]}   if F[c] == 0
//   y = OUT_BIAS + #{t : x <= T[c][t]}   if F[c] == 1   (negative BatchNorm scale)
// x is signed IN_BITS; y is written as OUT_BITS two's complement (the caller guarantees it fits,
// signed or unsigned). Thresholds need not be sorted.
//
//   input beat  : PE signed values, channel c = cf*PE + p at bits [p*IN_BITS +: IN_BITS]
//   output beat : PE values, channel c at bits [p*OUT_BITS +: OUT_BITS]
//   ROM         : $readmemh(THRESH_FILE), depth CF = C/PE, word cf; channel cf*PE + p in a slot of
//                 SLOT = N_THRESH*IN_BITS + 1 bits at bit p*SLOT; in the slot T[c][t] at t*IN_BITS and
//                 F[c] at bit SLOT-1.
//
// Pipeline: issue (input and ROM word registered) -> compare/count/bias (one thresholding_pe per PE, see
// hw/thresholding/thresholding_pe.v, compiled with this file) -> output queue. A credit counter admits a
// beat only when its queue slot is guaranteed, so s_axis_tready depends on registers only and the pipeline
// never stalls. One beat per cycle; a beat accepted in cycle t is valid at the output in cycle t + 2 + PIPE
// (no backpressure). A vector of C channels takes CF = C/PE cycles.
// PIPE (register stages for Fmax, each one cycle of latency): 1 = one more register on the ROM word (block
// RAM's read data gets a cycle of its own) and the input; 2 = also the comparison results (counted in the
// next cycle). The output queue is 4 beats deep, 8 with PIPE = 2, so the credit rule never holds a beat.
module thresholding #(
    parameter integer C        = 8,
    parameter integer PE       = 2,
    parameter integer IN_BITS  = 8,
    parameter integer N_THRESH = 3,
    parameter integer OUT_BITS = 2,
    parameter integer OUT_BIAS = 0,
    parameter integer PIPE     = 0,
    parameter         THRESH_FILE = "thresholds.mem"
) (
    input  wire                    clk,
    input  wire                    rst_n,
    input  wire [PE*IN_BITS-1:0]   s_axis_tdata,
    input  wire                    s_axis_tvalid,
    output wire                    s_axis_tready,
    output wire [PE*OUT_BITS-1:0]  m_axis_tdata,
    output wire                    m_axis_tvalid,
    input  wire                    m_axis_tready
);
    function integer imax;
        input integer a, b;
        begin
            imax = (a > b) ? a : b;
        end
    endfunction

    localparam integer CF     = C / PE;
    localparam integer SLOT   = N_THRESH * IN_BITS + 1;
    localparam integer RWIDTH = PE * SLOT;
    localparam integer AW     = imax($clog2(CF), 1);
    localparam integer QD     = (PIPE >= 2) ? 8 : 4;   // beats in flight from issue to read: 2 + PIPE
    localparam integer QW     = $clog2(QD);

    generate
        if (PIPE < 0 || PIPE > 2) begin : g_bad_pipe
            initial begin
                $display("ERROR: thresholding: PIPE=%0d, expected 0, 1 or 2", PIPE);
                $finish;
            end
        end
        if (C % PE != 0 || PE < 1 || N_THRESH < 1) begin : g_bad_params
            initial begin
                $display("ERROR: thresholding: PE=%0d must divide C=%0d and N_THRESH=%0d must be >= 1",
                         PE, C, N_THRESH);
                $finish;
            end
        end
    endgenerate

    // ------------------------------------------------------------------ issue stage
    reg  [AW-1:0] cf;
    reg  [QW:0]   q_ip, q_wp, q_rp;   // beats issued / written / read, mod 2*QD
    wire          q_full = ((q_ip ^ q_rp) == {1'b1, {QW{1'b0}}});
    wire          issue  = s_axis_tvalid && !q_full;

    assign s_axis_tready = !q_full;

    always @(posedge clk) begin
        if (!rst_n) begin
            cf   <= {AW{1'b0}};
            q_ip <= {(QW+1){1'b0}};
        end else if (issue) begin
            cf   <= (cf == CF[AW-1:0] - 1'b1) ? {AW{1'b0}} : cf + 1'b1;
            q_ip <= q_ip + 1'b1;
        end
    end

    reg                   v1;
    reg  [PE*IN_BITS-1:0] x1;
    wire [RWIDTH-1:0]     t1;

    always @(posedge clk) begin
        if (!rst_n) v1 <= 1'b0;
        else        v1 <= issue;
        if (issue) x1 <= s_axis_tdata;
    end

    generate
        if (CF > 1) begin : g_rom
            wire [RWIDTH-1:0] tq;
            qflow_rom #(
                .WIDTH(RWIDTH),
                .DEPTH(CF),
                .AW(AW),
                .INIT_FILE(THRESH_FILE)
            ) u_rom (
                .clk(clk),
                .en(issue),
                .addr(cf),
                .q(tq)
            );
            assign t1 = tq;
        end else begin : g_const
            // one ROM word: constant thresholds, folded into the comparators by synthesis
            reg [RWIDTH-1:0] rom [0:0];
            initial $readmemh(THRESH_FILE, rom);
            assign t1 = rom[0];
            wire _unused_cf = &{1'b0, cf, 1'b0};
        end
    endgenerate

    // ------------------------------------------------------------------ register stages (PIPE)
    // xa/ta: the comparators' operands; vb: the beat that reaches the queue, PIPE cycles after stage 1
    wire [PE*IN_BITS-1:0] xa;
    wire [RWIDTH-1:0]     ta;
    wire                  vb;

    generate
        if (PIPE >= 1) begin : g_in_reg
            reg [PE*IN_BITS-1:0] x2;
            reg [RWIDTH-1:0]     t2;
            always @(posedge clk) begin
                x2 <= x1;
                t2 <= t1;
            end
            assign xa = x2;
            assign ta = t2;
        end else begin : g_no_in_reg
            assign xa = x1;
            assign ta = t1;
        end

        if (PIPE >= 1) begin : g_flags
            reg [PIPE-1:0] v_d;  // bit k: the valid flag k+1 cycles after stage 1
            integer k;
            always @(posedge clk) begin
                if (!rst_n) v_d <= {PIPE{1'b0}};
                else begin
                    v_d[0] <= v1;
                    for (k = 1; k < PIPE; k = k + 1) v_d[k] <= v_d[k-1];
                end
            end
            assign vb = v_d[PIPE-1];
        end else begin : g_no_flags
            assign vb = v1;
        end
    endgenerate

    // ------------------------------------------------------------------ compare, count, bias
    wire [PE*OUT_BITS-1:0] beat;

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            thresholding_pe #(
                .IN_BITS(IN_BITS), .N_THRESH(N_THRESH), .OUT_BITS(OUT_BITS), .OUT_BIAS(OUT_BIAS),
                .HIT_REG(PIPE >= 2 ? 1 : 0)
            ) u_pe (
                .clk(clk),
                .x(xa[p*IN_BITS +: IN_BITS]),
                .slot(ta[p*SLOT +: SLOT]),
                .y(beat[p*OUT_BITS +: OUT_BITS])
            );
        end
    endgenerate

    // ------------------------------------------------------------------ output queue (QD beats)
    reg [PE*OUT_BITS-1:0] q_mem [0:QD-1];

    always @(posedge clk) begin
        if (vb) q_mem[q_wp[QW-1:0]] <= beat;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            q_wp <= {(QW+1){1'b0}};
            q_rp <= {(QW+1){1'b0}};
        end else begin
            if (vb) q_wp <= q_wp + 1'b1;
            if (m_axis_tvalid && m_axis_tready) q_rp <= q_rp + 1'b1;
        end
    end

    assign m_axis_tvalid = (q_wp != q_rp);
    assign m_axis_tdata  = q_mem[q_rp[QW-1:0]];
endmodule
`default_nettype wire

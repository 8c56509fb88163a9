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
// hw/thresholding/thresholding_pe.v, compiled with this file) -> 4-deep output queue. A credit
// counter admits a beat only when its queue slot is guaranteed, so s_axis_tready depends on registers
// only and the pipeline never stalls. One beat per cycle; a beat accepted in cycle t is valid at the
// output in cycle t + 2 (no backpressure). A vector of C channels takes CF = C/PE cycles.
module thresholding #(
    parameter integer C        = 8,
    parameter integer PE       = 2,
    parameter integer IN_BITS  = 8,
    parameter integer N_THRESH = 3,
    parameter integer OUT_BITS = 2,
    parameter integer OUT_BIAS = 0,
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

    generate
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
    reg  [2:0]    q_ip, q_wp, q_rp;   // beats issued / written / read, mod 8
    wire          q_full = ((q_ip ^ q_rp) == 3'b100);
    wire          issue  = s_axis_tvalid && !q_full;

    assign s_axis_tready = !q_full;

    always @(posedge clk) begin
        if (!rst_n) begin
            cf   <= {AW{1'b0}};
            q_ip <= 3'd0;
        end else if (issue) begin
            cf   <= (cf == CF[AW-1:0] - 1'b1) ? {AW{1'b0}} : cf + 1'b1;
            q_ip <= q_ip + 3'd1;
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
            reg [RWIDTH-1:0] rom [0:CF-1];
            reg [RWIDTH-1:0] tq;
            initial $readmemh(THRESH_FILE, rom);
            always @(posedge clk) begin
                if (issue) tq <= rom[cf];
            end
            assign t1 = tq;
        end else begin : g_const
            // one ROM word: constant thresholds, folded into the comparators by synthesis
            reg [RWIDTH-1:0] rom [0:0];
            initial $readmemh(THRESH_FILE, rom);
            assign t1 = rom[0];
            wire _unused_cf = &{1'b0, cf, 1'b0};
        end
    endgenerate

    // ------------------------------------------------------------------ stage 1: compare, count, bias
    wire [PE*OUT_BITS-1:0] beat;

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            thresholding_pe #(
                .IN_BITS(IN_BITS), .N_THRESH(N_THRESH), .OUT_BITS(OUT_BITS), .OUT_BIAS(OUT_BIAS)
            ) u_pe (
                .x(x1[p*IN_BITS +: IN_BITS]),
                .slot(t1[p*SLOT +: SLOT]),
                .y(beat[p*OUT_BITS +: OUT_BITS])
            );
        end
    endgenerate

    // ------------------------------------------------------------------ output queue (4 beats)
    reg [PE*OUT_BITS-1:0] q_mem [0:3];

    always @(posedge clk) begin
        if (v1) q_mem[q_wp[1:0]] <= beat;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            q_wp <= 3'd0;
            q_rp <= 3'd0;
        end else begin
            if (v1) q_wp <= q_wp + 3'd1;
            if (m_axis_tvalid && m_axis_tready) q_rp <= q_rp + 3'd1;
        end
    end

    assign m_axis_tvalid = (q_wp != q_rp);
    assign m_axis_tdata  = q_mem[q_rp[1:0]];
endmodule
`default_nettype wire

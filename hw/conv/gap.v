`default_nettype none
// gap: global sum pooling -- per channel, the sum of all IFM_H x IFM_W pixels of an image, AXI-Stream in and
// out. With the division by the pixel count it is global average pooling: a power-of-two count is a scale
// (the sum's fraction bits), any other count is absorbed by the thresholds that follow (see flow/blocks/gap.py).
//
// Input : images of IFM_H x IFM_W pixels x CH channels, channels-last, pixel by pixel, each pixel CF = CH/SIMD
//         beats; element s of beat cf (channel cf*SIMD + s) at bits [s*ELEM_BITS +: ELEM_BITS], signed if
//         SIGNED. Images follow each other with no gap or marker.
// Output: one pixel of CH sums per image, CF beats of SIMD sums, each OUT_BITS wide in two's complement (for
//         unsigned inputs too: the thresholds after it compare signed); OUT_BITS = ELEM_BITS +
//         clog2(IFM_H*IFM_W) (+1 for unsigned inputs) holds every sum exactly.
//
// One word of partial sums per channel fold (CF words of SIMD*OUT_BITS, asynchronous read: distributed RAM):
// each input beat reads its word, adds its elements (or starts it, on the first pixel) and writes it back; on
// the last pixel the sum goes into a 2-deep output queue instead. s_axis_tready is low only while the current
// beat would complete an output beat and the queue is full; it depends on registers only.
//
// Timing: one input beat per cycle; an input beat accepted in cycle t that completes an output beat makes it
// valid in cycle t + 1. With the output always ready the input is never stalled: an image takes
// IFM_H*IFM_W*CF cycles.
module gap #(
    parameter integer IFM_H     = 4,
    parameter integer IFM_W     = 4,
    parameter integer CH        = 4,
    parameter integer SIMD      = 2,
    parameter integer ELEM_BITS = 4,
    parameter integer SIGNED    = 1,
    parameter integer OUT_BITS  = ELEM_BITS + $clog2(IFM_H * IFM_W) + ((SIGNED != 0) ? 0 : 1)
) (
    input  wire                        clk,
    input  wire                        rst_n,
    input  wire [SIMD*ELEM_BITS-1:0]   s_axis_tdata,
    input  wire                        s_axis_tvalid,
    output wire                        s_axis_tready,
    output wire [SIMD*OUT_BITS-1:0]    m_axis_tdata,
    output wire                        m_axis_tvalid,
    input  wire                        m_axis_tready
);
    localparam integer CF     = CH / SIMD;
    localparam integer PIXELS = IFM_H * IFM_W;
    localparam integer MEMD   = (CF < 2) ? 2 : CF;
    localparam integer AW     = $clog2(MEMD);
    localparam integer PB     = $clog2(PIXELS + 1);   // pixel counter 0..PIXELS-1
    localparam integer OW     = SIMD * OUT_BITS;

    generate
        if (SIMD < 1 || CH % SIMD != 0 || ELEM_BITS < 1
            || OUT_BITS < ELEM_BITS + $clog2(PIXELS) + ((SIGNED != 0) ? 0 : 1)) begin : g_bad
            initial begin
                $display("ERROR: gap: need SIMD | CH (CH=%0d, SIMD=%0d), OUT_BITS >= ELEM_BITS + clog2(%0d) (+1 unsigned), got %0d",
                         CH, SIMD, PIXELS, OUT_BITS);
                $finish;
            end
        end
    endgenerate

    // ------------------------------------------------------------------ position counters
    reg  [AW-1:0] cf;
    reg  [PB-1:0] pix;
    wire last_cf  = (cf == CF[AW-1:0] - 1'b1);
    wire first    = (pix == {PB{1'b0}});
    wire emit     = (pix == PIXELS[PB-1:0] - 1'b1);

    reg  [1:0] q_wp, q_rp;       // output queue pointers, mod 4
    wire       q_full = ((q_wp ^ q_rp) == 2'b10);

    assign s_axis_tready = !(emit && q_full);
    wire take = s_axis_tvalid && s_axis_tready;

    always @(posedge clk) begin
        if (!rst_n) begin
            cf  <= {AW{1'b0}};
            pix <= {PB{1'b0}};
        end else if (take) begin
            cf <= last_cf ? {AW{1'b0}} : cf + 1'b1;
            if (last_cf) pix <= emit ? {PB{1'b0}} : pix + 1'b1;
        end
    end

    // ------------------------------------------------------------------ partial sums
    reg  [OW-1:0] acc [0:MEMD-1];
    wire [OW-1:0] prev = acc[cf];
    wire [OW-1:0] summed;

    genvar s;
    generate
        for (s = 0; s < SIMD; s = s + 1) begin : g_lane
            wire [ELEM_BITS-1:0] a = s_axis_tdata[s*ELEM_BITS +: ELEM_BITS];
            wire [OUT_BITS-1:0]  ext = {{(OUT_BITS-ELEM_BITS){(SIGNED != 0) && a[ELEM_BITS-1]}}, a};
            wire [OUT_BITS-1:0]  base = first ? {OUT_BITS{1'b0}} : prev[s*OUT_BITS +: OUT_BITS];
            assign summed[s*OUT_BITS +: OUT_BITS] = base + ext;
        end
    endgenerate

    always @(posedge clk) begin
        if (take && !emit) acc[cf] <= summed;
    end

    // ------------------------------------------------------------------ output queue (2 beats)
    reg [OW-1:0] q_mem [0:1];

    always @(posedge clk) begin
        if (take && emit) q_mem[q_wp[0]] <= summed;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            q_wp <= 2'd0;
            q_rp <= 2'd0;
        end else begin
            if (take && emit) q_wp <= q_wp + 2'd1;
            if (m_axis_tvalid && m_axis_tready) q_rp <= q_rp + 2'd1;
        end
    end

    assign m_axis_tvalid = (q_wp != q_rp);
    assign m_axis_tdata  = q_mem[q_rp[0]];
endmodule
`default_nettype wire

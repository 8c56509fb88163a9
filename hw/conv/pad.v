`default_nettype none
// pad: constant border around each image, AXI-Stream in and out.
//
// Input : images of IFM_H x IFM_W pixels x CH channels, channels-last, pixel (y, x) in row-major order,
//         each pixel CF = CH/SIMD beats; element s of beat cf (channel cf*SIMD + s) at
//         bits [s*ELEM_BITS +: ELEM_BITS]. Images follow each other with no gap or marker.
// Output: OH = PAD_T + IFM_H + PAD_B by OW = PAD_L + IFM_W + PAD_R pixels, same layout; output pixel
//         (PAD_T + y, PAD_L + x) is input pixel (y, x), every other element is PAD_VALUE.
// PAD_VALUE: the border element; its two's complement (32-bit integer parameter) is truncated or
//         sign-extended to ELEM_BITS bits, so both an unsigned code and a negative value work.
//
// One output beat per cycle: a counter walks the output image; a border beat is issued without input, an
// interior beat takes the next input beat. An image's first output beat waits until the image's first
// input beat is valid (looked at, taken only if it is interior), so no border of a next image is sent
// before that image arrives. Issued beats go into a 2-deep output queue; s_axis_tready depends on
// registers only (no combinational path from m_axis_tready to s_axis_tready). No padding: a register
// stage (latency 1).
//
// Timing: a beat issued in cycle t is valid in cycle t + 1. With the output always ready an image takes
// OH*OW*CF cycles when its input beats are valid in time (each interior beat is issued as soon as its
// input beat is valid and the previous output beat was issued).
module pad #(
    parameter integer IFM_H     = 5,
    parameter integer IFM_W     = 4,
    parameter integer CH        = 4,
    parameter integer SIMD      = 2,
    parameter integer PAD_T     = 1,
    parameter integer PAD_B     = 2,
    parameter integer PAD_L     = 0,
    parameter integer PAD_R     = 1,
    parameter integer ELEM_BITS = 4,
    parameter integer PAD_VALUE = 3
) (
    input  wire                        clk,
    input  wire                        rst_n,
    input  wire [SIMD*ELEM_BITS-1:0]   s_axis_tdata,
    input  wire                        s_axis_tvalid,
    output wire                        s_axis_tready,
    output wire [SIMD*ELEM_BITS-1:0]   m_axis_tdata,
    output wire                        m_axis_tvalid,
    input  wire                        m_axis_tready
);
    localparam integer CF = CH / SIMD;
    localparam integer OH = PAD_T + IFM_H + PAD_B;
    localparam integer OW = PAD_L + IFM_W + PAD_R;
    localparam integer EW = SIMD * ELEM_BITS;
    // counter widths: each holds 0..N for a counter over 0..N-1
    localparam integer CB = $clog2(CF + 1);
    localparam integer XB = $clog2(OW + 1);
    localparam integer YB = $clog2(OH + 1);
    localparam integer Y_END = PAD_T + IFM_H;  // first bottom-border row
    localparam integer X_END = PAD_L + IFM_W;  // first right-border column

    generate
        if (SIMD < 1 || CH % SIMD != 0 || IFM_H < 1 || IFM_W < 1 || ELEM_BITS < 1 ||
            PAD_T < 0 || PAD_B < 0 || PAD_L < 0 || PAD_R < 0) begin : g_bad_params
            initial begin
                $display("ERROR: pad: need SIMD | CH (CH=%0d, SIMD=%0d), IFM_H, IFM_W >= 1, pads >= 0", CH, SIMD);
                $finish;
            end
        end
    endgenerate

    function [EW-1:0] pad_word;  // PAD_VALUE in every lane
        input integer unused;
        integer s, b;
        begin
            for (s = 0; s < SIMD; s = s + 1)
                for (b = 0; b < ELEM_BITS; b = b + 1)
                    pad_word[s*ELEM_BITS + b] = PAD_VALUE[(b < 32) ? b : 31];
        end
    endfunction

    localparam [EW-1:0] PAD_WORD = pad_word(0);

    // ------------------------------------------------------------------ output position
    reg  [CB-1:0] cf;
    reg  [XB-1:0] ox;
    reg  [YB-1:0] oy;

    wire last_cf = (cf == CF[CB-1:0] - 1'b1);
    wire last_x  = (ox == OW[XB-1:0] - 1'b1);
    wire last_y  = (oy == OH[YB-1:0] - 1'b1);
    wire first   = (cf == {CB{1'b0}}) && (ox == {XB{1'b0}}) && (oy == {YB{1'b0}});

    // interior test; bounds that always hold are left out (no constant comparisons)
    wire y_lo, y_hi, x_lo, x_hi;
    generate
        if (PAD_T > 0) begin : g_t
            assign y_lo = (oy >= PAD_T[YB-1:0]);
        end else begin : g_no_t
            assign y_lo = 1'b1;
        end
        if (PAD_B > 0) begin : g_b
            assign y_hi = (oy < Y_END[YB-1:0]);
        end else begin : g_no_b
            assign y_hi = 1'b1;
        end
        if (PAD_L > 0) begin : g_l
            assign x_lo = (ox >= PAD_L[XB-1:0]);
        end else begin : g_no_l
            assign x_lo = 1'b1;
        end
        if (PAD_R > 0) begin : g_r
            assign x_hi = (ox < X_END[XB-1:0]);
        end else begin : g_no_r
            assign x_hi = 1'b1;
        end
    endgenerate
    wire interior = y_lo && y_hi && x_lo && x_hi;

    reg  [1:0] q_wp, q_rp;       // output queue pointers, mod 4
    wire       q_full = ((q_wp ^ q_rp) == 2'b10);

    assign s_axis_tready = !q_full && interior;
    wire issue = !q_full && (s_axis_tvalid || (!interior && !first));

    always @(posedge clk) begin
        if (!rst_n) begin
            cf <= {CB{1'b0}};
            ox <= {XB{1'b0}};
            oy <= {YB{1'b0}};
        end else if (issue) begin
            cf <= last_cf ? {CB{1'b0}} : cf + 1'b1;
            if (last_cf) begin
                ox <= last_x ? {XB{1'b0}} : ox + 1'b1;
                if (last_x) oy <= last_y ? {YB{1'b0}} : oy + 1'b1;
            end
        end
    end

    // ------------------------------------------------------------------ output queue (2 beats)
    reg [EW-1:0] q_mem [0:1];

    always @(posedge clk) begin
        if (issue) q_mem[q_wp[0]] <= interior ? s_axis_tdata : PAD_WORD;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            q_wp <= 2'd0;
            q_rp <= 2'd0;
        end else begin
            if (issue) q_wp <= q_wp + 2'd1;
            if (m_axis_tvalid && m_axis_tready) q_rp <= q_rp + 2'd1;
        end
    end

    assign m_axis_tvalid = (q_wp != q_rp);
    assign m_axis_tdata  = q_mem[q_rp[0]];
endmodule
`default_nettype wire

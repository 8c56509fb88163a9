`default_nettype none
// cmvm: control of a constant matrix-vector multiplier (block cmvm): AXI-Stream in and out, input
// register, pipeline enable, the register slice that keeps s_axis_tready registered. The arithmetic is the
// layer's generated module (see flow/blocks/cmvm_verilog.py), which instantiates this one and computes y from
// x in STAGES combinational stages, its registers between stages enabled by ce.
//
// A registered ready needs one spare vector register and a multiplexer in front of a register (one LUT per
// bit); SKID_IN puts them on the narrower side of the layer (chosen by the generator):
//   SKID_IN = 0:  s_axis_tdata -> x (input register) -> stages -> y -> skid_buffer (output and skid register)
//   SKID_IN = 1:  s_axis_tdata -> skid register / multiplexer -> x (input register) -> stages -> y -> output
//                 register
// v[k] says the registers of boundary k (k = 0: x) hold a vector. The whole pipeline advances (ce) unless
// its last boundary holds a vector the output side cannot take; s_axis_tready depends on flip-flops only (no
// combinational path from m_axis_tready). One vector per cycle without backpressure; a vector accepted in
// cycle t is valid at m_axis in cycle t + STAGES + 1; held at the output, the block takes STAGES + 2 vectors.
module cmvm #(
    parameter integer IN_WIDTH  = 8,
    parameter integer OUT_WIDTH = 8,
    parameter integer STAGES    = 1,
    parameter integer SKID_IN   = 0
) (
    input  wire                 clk,
    input  wire                 rst_n,
    input  wire [IN_WIDTH-1:0]  s_axis_tdata,
    input  wire                 s_axis_tvalid,
    output wire                 s_axis_tready,
    output wire [OUT_WIDTH-1:0] m_axis_tdata,
    output wire                 m_axis_tvalid,
    input  wire                 m_axis_tready,
    output wire                 ce,
    output wire [IN_WIDTH-1:0]  x,
    input  wire [OUT_WIDTH-1:0] y
);
    generate
        if (STAGES < 1 || IN_WIDTH < 1 || OUT_WIDTH < 1 || (SKID_IN != 0 && SKID_IN != 1)) begin : g_bad_params
            initial begin
                $display("ERROR: cmvm: expected STAGES >= 1, positive widths and SKID_IN 0 or 1, got STAGES=%0d IN_WIDTH=%0d OUT_WIDTH=%0d SKID_IN=%0d",
                         STAGES, IN_WIDTH, OUT_WIDTH, SKID_IN);
                $finish;
            end
        end
    endgenerate

    reg  [STAGES-1:0]   v;
    reg  [IN_WIDTH-1:0] x_q;
    wire                y_ready;  // the output side takes the last boundary's vector this cycle
    wire                x_valid;  // a vector enters boundary 0 when ce
    wire [IN_WIDTH-1:0] x_next;

    assign ce = !v[STAGES-1] || y_ready;
    assign x  = x_q;

    generate
        if (STAGES > 1) begin : g_deep
            always @(posedge clk) begin
                if (!rst_n) v <= {STAGES{1'b0}};
                else if (ce) v <= {v[STAGES-2:0], x_valid};
            end
        end else begin : g_one
            always @(posedge clk) begin
                if (!rst_n) v <= 1'b0;
                else if (ce) v <= x_valid;
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (ce) x_q <= x_next;
    end

    generate
        if (SKID_IN == 0) begin : g_skid_out
            assign s_axis_tready = ce;
            assign x_valid       = s_axis_tvalid;
            assign x_next        = s_axis_tdata;
            skid_buffer #(
                .WIDTH(OUT_WIDTH)
            ) u_out (
                .clk(clk),
                .rst_n(rst_n),
                .s_axis_tdata(y),
                .s_axis_tvalid(v[STAGES-1]),
                .s_axis_tready(y_ready),
                .m_axis_tdata(m_axis_tdata),
                .m_axis_tvalid(m_axis_tvalid),
                .m_axis_tready(m_axis_tready)
            );
        end else begin : g_skid_in
            // A beat taken while the pipeline is held waits in the skid register; s_axis_tready is low while
            // it is full. ce follows m_axis_tready through the output register, inside this block only.
            reg  [IN_WIDTH-1:0]  skid_q;
            reg                  skid_v;
            reg  [OUT_WIDTH-1:0] y_q;
            reg                  y_v;
            assign s_axis_tready = !skid_v;
            assign x_valid       = skid_v || s_axis_tvalid;
            assign x_next        = skid_v ? skid_q : s_axis_tdata;
            assign y_ready       = !y_v || m_axis_tready;
            assign m_axis_tdata  = y_q;
            assign m_axis_tvalid = y_v;
            always @(posedge clk) begin
                if (!rst_n) begin
                    skid_v <= 1'b0;
                    y_v    <= 1'b0;
                end else begin
                    if (ce) skid_v <= 1'b0;
                    else if (s_axis_tvalid && !skid_v) skid_v <= 1'b1;
                    if (y_ready) y_v <= v[STAGES-1];
                end
            end
            always @(posedge clk) begin
                if (!ce && !skid_v) skid_q <= s_axis_tdata;
                if (y_ready && v[STAGES-1]) y_q <= y;
            end
        end
    endgenerate
endmodule
`default_nettype wire

`default_nettype none
// cmvm: control of a constant matrix-vector multiplier (block cmvm): AXI-Stream in and out, input
// register, pipeline enable, output register slice. The arithmetic is the layer's generated module (see
// flow/blocks/cmvm_verilog.py), which instantiates this one and computes y from x in STAGES combinational
// stages, its registers between stages enabled by ce.
//
//   s_axis_tdata -> x (input register, boundary 0) -> stage 1 -> reg -> ... -> stage STAGES -> y
//   y -> skid_buffer (hw/axis/skid_buffer.v: output register and skid register) -> m_axis_tdata
//
// v[k] says the registers of boundary k (k = 0: x) hold a vector. The whole pipeline advances (ce) unless
// its last boundary holds a vector the output slice cannot take; ce and s_axis_tready depend on flip-flops
// only (no combinational path from m_axis_tready). One vector per cycle without backpressure; a vector
// accepted in cycle t is valid at m_axis in cycle t + STAGES + 1.
module cmvm #(
    parameter integer IN_WIDTH  = 8,
    parameter integer OUT_WIDTH = 8,
    parameter integer STAGES    = 1
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
        if (STAGES < 1 || IN_WIDTH < 1 || OUT_WIDTH < 1) begin : g_bad_params
            initial begin
                $display("ERROR: cmvm: expected STAGES >= 1 and positive widths, got STAGES=%0d IN_WIDTH=%0d OUT_WIDTH=%0d",
                         STAGES, IN_WIDTH, OUT_WIDTH);
                $finish;
            end
        end
    endgenerate

    reg  [STAGES-1:0]   v;
    reg  [IN_WIDTH-1:0] x_q;
    wire                y_ready;

    assign ce            = !v[STAGES-1] || y_ready;
    assign s_axis_tready = ce;
    assign x             = x_q;

    generate
        if (STAGES > 1) begin : g_deep
            always @(posedge clk) begin
                if (!rst_n) v <= {STAGES{1'b0}};
                else if (ce) v <= {v[STAGES-2:0], s_axis_tvalid};
            end
        end else begin : g_one
            always @(posedge clk) begin
                if (!rst_n) v <= 1'b0;
                else if (ce) v <= s_axis_tvalid;
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (ce) x_q <= s_axis_tdata;
    end

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
endmodule
`default_nettype wire

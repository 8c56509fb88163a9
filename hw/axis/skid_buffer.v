`default_nettype none
// skid_buffer: AXI-Stream register slice with a registered s_axis_tready and full throughput.
//
// Two registers: the output register (m_axis_*) and a skid register that catches the beat arriving in
// the cycle the output stalls. s_axis_tready is a flip-flop (it is low exactly while the skid register
// is full), m_axis_tdata/tvalid come from flip-flops: the slice cuts every combinational path between
// its two sides. Latency 1 cycle; one beat per cycle when the consumer is ready; capacity 2 beats.
module skid_buffer #(
    parameter integer WIDTH = 8
) (
    input  wire             clk,
    input  wire             rst_n,
    input  wire [WIDTH-1:0] s_axis_tdata,
    input  wire             s_axis_tvalid,
    output wire             s_axis_tready,
    output wire [WIDTH-1:0] m_axis_tdata,
    output wire             m_axis_tvalid,
    input  wire             m_axis_tready
);
    reg [WIDTH-1:0] out_data, skid_data;
    reg             out_valid, skid_valid;

    assign s_axis_tready = !skid_valid;
    assign m_axis_tdata  = out_data;
    assign m_axis_tvalid = out_valid;

    wire out_free = !out_valid || m_axis_tready;  // the output register can take a beat this cycle

    always @(posedge clk) begin
        if (!rst_n) begin
            out_valid  <= 1'b0;
            skid_valid <= 1'b0;
        end else if (skid_valid) begin
            // input is stalled; drain the skid register into the output when it frees up
            if (out_free) begin
                out_valid  <= 1'b1;
                skid_valid <= 1'b0;
            end
        end else if (out_free) begin
            out_valid <= s_axis_tvalid;
        end else if (s_axis_tvalid) begin
            skid_valid <= 1'b1;  // output stalled: park the incoming beat
        end
    end

    always @(posedge clk) begin
        if (skid_valid) begin
            if (out_free) out_data <= skid_data;
        end else if (out_free) begin
            if (s_axis_tvalid) out_data <= s_axis_tdata;
        end else if (s_axis_tvalid) begin
            skid_data <= s_axis_tdata;
        end
    end
endmodule
`default_nettype wire

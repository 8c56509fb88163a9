`default_nettype none
// qflow_rom: read-only memory initialised from INIT_FILE ($readmemh), one word read per cycle: q takes
// mem[addr] at the clock edge when en. Shared by the blocks whose weights or thresholds are a real memory
// (mvau, vvau, thresholding; a single word stays in the block, where synthesis folds it into the logic).
//
// It is a module of its own so that synthesis can map it alone: the Xilinx estimate keeps every qflow_rom as
// its own module (flow/rtl/yosys.py), where a ROM left to logic becomes ceil(DEPTH/64) LUT6 per column (plus
// MUXF7/MUXF8); flattened into the block, ABC merged its multiplexer tree with the arithmetic behind the
// register and took 2.6 times the LUTs (BENCHMARKS.md, issue 19). Block RAM and LUT RAM are inferred from
// it as before (a registered read).
module qflow_rom #(
    parameter integer WIDTH     = 8,
    parameter integer DEPTH     = 2,
    parameter integer AW        = 1,
    parameter         INIT_FILE = "rom.mem"
) (
    input  wire             clk,
    input  wire             en,
    input  wire [AW-1:0]    addr,
    output reg  [WIDTH-1:0] q
);
    generate
        if (DEPTH < 2 || AW < 1 || (1 << AW) < DEPTH || WIDTH < 1) begin : g_bad_params
            initial begin
                $display("ERROR: qflow_rom: expected DEPTH >= 2, WIDTH >= 1 and 2**AW >= DEPTH, got DEPTH=%0d WIDTH=%0d AW=%0d",
                         DEPTH, WIDTH, AW);
                $finish;
            end
        end
    endgenerate

    reg [WIDTH-1:0] mem [0:DEPTH-1];
    initial $readmemh(INIT_FILE, mem);
    always @(posedge clk) begin
        if (en) q <= mem[addr];
    end
endmodule
`default_nettype wire

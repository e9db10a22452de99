/**
 * Filtergraph text: escaping a value so that no byte of it can end an option,
 * a filter or the graph, and the drawtext filter for timed overlays.
 */
import type { Overlay } from "./plan";

/**
 * Escapes a filter option's value for a filtergraph string (-vf,
 * -filter_complex), which ffmpeg unescapes twice: the graph parser first
 * (where `[ ] , ;` end things and `\` and `'` escape), then the filter's option
 * parser (where `:` ends the value). So: quote for the option parser (inside
 * '…' everything is literal; a quote itself is written '\'' ), then
 * backslash-escape what the graph parser treats specially. Percent signs need
 * nothing here: drawtext gets expansion=none, so it never expands them.
 */
export function filterValue(value: string): string {
  const quoted = `'${value.replaceAll("'", "'\\''")}'`;
  return quoted.replace(/[\\'[\],;]/g, "\\$&");
}

/** `name=value:name=value` with every value escaped. */
export function filterOptions(options: Record<string, string | number>): string {
  return Object.entries(options)
    .map(([name, value]) => `${name}=${typeof value === "number" ? String(value) : filterValue(value)}`)
    .join(":");
}

const MARGIN = "h*0.05";
const Y: Record<Overlay["position"], string> = {
  top: MARGIN,
  center: "(h-text_h)/2",
  bottom: `h-text_h-${MARGIN}`,
};

/**
 * One drawtext for one overlay, shown while offsetS + start_s <= t < offsetS
 * + end_s in the piece's own time (t starts at 0 in each re-encoded piece).
 * expansion=none is not optional: with it, `%{...}` in a user's text stays
 * text instead of running drawtext's expansion functions.
 */
export function drawtext(overlay: Overlay, fontFile: string, pieceStartS: number): string {
  const from = seconds(overlay.start_s - pieceStartS);
  const to = seconds(overlay.end_s - pieceStartS);
  return `drawtext=${filterOptions({
    fontfile: fontFile,
    expansion: "none",
    text: overlay.text,
    fontsize: overlay.font_size,
    fontcolor: overlay.color,
    // A dark outline keeps light text readable on light footage.
    borderw: Math.max(1, Math.round(overlay.font_size / 24)),
    bordercolor: "black@0.8",
    x: "(w-text_w)/2",
    y: Y[overlay.position],
    fix_bounds: "true",
    enable: `gte(t,${from})*lt(t,${to})`,
  })}`;
}

function seconds(value: number): string {
  return Math.max(0, value).toFixed(6);
}

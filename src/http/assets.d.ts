// Files imported `with { type: "text" }` are strings (Bun embeds them, also in the single binary).
declare module "*.client.js" {
  const text: string;
  export default text;
}
declare module "uplot/dist/uPlot.iife.min.js" {
  const text: string;
  export default text;
}
declare module "uplot/dist/uPlot.min.css" {
  const text: string;
  export default text;
}

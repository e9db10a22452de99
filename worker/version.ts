/** The service version reported by health routes and the OpenAPI document. */
export const VERSION = "0.1.0";

export * from "./gen/altalune/v1/common_pb.js";
export * from "./gen/altalune/v1/options_pb.js";
export * from "./gen/altalune/v1/project_pb.js";
export * from "./gen/altalune/v1/config_pb.js";
export * from "./gen/altalune/v1/employee_pb.js";
export * from "./gen/altalune/v1/api_key_pb.js";

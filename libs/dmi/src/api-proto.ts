/**
 * KubeEdge's Device Management Interface, v1beta1: the text of
 * `staging/src/github.com/kubeedge/api/apis/dmi/v1beta1/api.proto` (published as
 * `github.com/kubeedge/api/apis/dmi/v1beta1`) at kubeedge/kubeedge commit
 * 1531e3d8c5754e4d868db85947ee44b0f8884e5b (Apache-2.0, the KubeEdge Authors), the version with
 * `ReportDeviceStates`, namespaces on devices and models, device methods, OTEL and database push
 * methods, anomaly detection, and `reportToCloud`/`reportCycle` on `DeviceStatus`.
 *
 * Package, service, message and field names, field numbers and types are KubeEdge's, unchanged:
 * the wire format is what edgecore and Go mappers check. Comments are shortened. It is a string
 * so that it ships inside `dist/` and needs no file at run time; `google/protobuf/any.proto`,
 * which it imports, comes from {@link WELL_KNOWN_TYPES_PROTO}.
 */
export const DMI_API_PROTO = `
syntax = "proto3";

option go_package = "./;v1beta1";
package v1beta1;

import "google/protobuf/any.proto";

// Served by edgecore's device manager (DeviceTwin); called by mappers. A mapper registers when it
// comes online to get its devices and models, then reports their twins and states.
service DeviceManagerService {
    rpc MapperRegister(MapperRegisterRequest) returns (MapperRegisterResponse) {}
    rpc ReportDeviceStatus(ReportDeviceStatusRequest) returns (ReportDeviceStatusResponse) {}
    // ReportDeviceStatus carries twins; KubeEdge keeps the name, and so does the wire.
    rpc ReportDeviceStates(ReportDeviceStatesRequest) returns (ReportDeviceStatesResponse) {}
}

// Served by a mapper; called by edgecore's device manager when the cloud changes devices and
// device models of the mapper's protocol.
service DeviceMapperService {
    rpc RegisterDevice(RegisterDeviceRequest) returns (RegisterDeviceResponse) {}
    rpc RemoveDevice(RemoveDeviceRequest) returns (RemoveDeviceResponse) {}
    rpc UpdateDevice(UpdateDeviceRequest) returns (UpdateDeviceResponse) {}
    rpc CreateDeviceModel(CreateDeviceModelRequest) returns (CreateDeviceModelResponse) {}
    rpc RemoveDeviceModel(RemoveDeviceModelRequest) returns (RemoveDeviceModelResponse) {}
    rpc UpdateDeviceModel(UpdateDeviceModelRequest) returns (UpdateDeviceModelResponse) {}
    rpc GetDevice(GetDeviceRequest) returns (GetDeviceResponse) {}
}

message MapperRegisterRequest {
    // True: the device manager returns the mapper's devices and models in the response.
    bool withData = 1;
    MapperInfo mapper = 2;
}

message MapperRegisterResponse {
    repeated DeviceModel modelList = 1;
    repeated Device deviceList = 2;
}

message DeviceModel {
    string name = 1;
    DeviceModelSpec spec = 2;
    string namespace = 3;
}

message DeviceModelSpec {
    repeated ModelProperty properties = 1;
    repeated DeviceCommand commands = 2;
}

message ModelProperty {
    string name = 1;
    string description = 2;
    string type = 3;
    // ReadOnly or ReadWrite.
    string accessMode = 4;
    string minimum = 5;
    string maximum = 6;
    string unit = 7;
}

message DeviceCommand {
    string name = 1;
    string url = 2;
    string method = 3;
    repeated string status_code = 4;
    repeated string parameters = 5;
    bytes response = 6;
}

message Device {
    string name = 1;
    DeviceSpec spec = 2;
    DeviceStatus status = 3;
    string namespace = 4;
}

message DeviceSpec {
    string deviceModelReference = 1;
    ProtocolConfig protocol = 2;
    repeated DeviceProperty properties = 3;
    repeated DeviceMethod methods = 4;
}

message DeviceMethod {
    string name = 1;
    string description = 2;
    repeated string propertyNames = 3;
}

message DeviceProperty {
    string name = 1;
    // The desired value of the property, configured by the device manager.
    TwinProperty desired = 2;
    // How the mapper reaches the property on the device.
    VisitorConfig visitors = 3;
    int64 reportCycle = 4;
    int64 collectCycle = 5;
    bool reportToCloud = 6;
    PushMethod pushMethod = 7;
}

message ProtocolConfig {
    string protocolName = 1;
    CustomizedValue configData = 2;
}

message VisitorConfig {
    string protocolName = 1;
    CustomizedValue configData = 2;
}

// The customized value for developers: any form.
message CustomizedValue {
    map<string, google.protobuf.Any> data = 1;
}

message PushMethod {
    PushMethodHTTP http = 1;
    PushMethodMQTT mqtt = 2;
    PushMethodOTEL otel = 4;
    DBMethod dbMethod = 3;
    AnomalyDetection anomalyDetection = 5;
}

message PushMethodHTTP {
    string hostname = 1;
    int64 port = 2;
    string requestpath = 3;
    int64 timeout = 4;
}

message PushMethodMQTT {
    // Broker address, like mqtt://127.0.0.1:1883.
    string address = 1;
    string topic = 2;
    int32 qos = 3;
    bool retained = 4;
}

message PushMethodOTEL {
    // Like https://localhost:4318/v1/metrics.
    string endpointURL = 1;
}

message DBMethod {
    DBMethodInfluxdb2 influxdb2 = 1;
    DBMethodRedis redis = 2;
    DBMethodTDEngine tdengine = 3;
    DBMethodMySQL mysql = 4;
}

message DBMethodInfluxdb2 {
    Influxdb2ClientConfig influxdb2ClientConfig = 1;
    Influxdb2DataConfig influxdb2DataConfig = 2;
}

message Influxdb2DataConfig {
    string measurement = 1;
    map<string, string> tag = 2;
    string fieldKey = 3;
}

message Influxdb2ClientConfig {
    string url = 1;
    string org = 2;
    string bucket = 3;
}

message DBMethodRedis {
    RedisClientConfig redisClientConfig = 1;
}

message RedisClientConfig {
    string addr = 1;
    int32 db = 2;
    int32 poolsize = 3;
    int32 minIdleConns = 4;
}

message DBMethodTDEngine {
    TDEngineClientConfig tdEngineClientConfig = 1;
}

message TDEngineClientConfig {
    // Like 127.0.0.1:6041.
    string addr = 1;
    string dbname = 2;
}

message DBMethodMySQL {
    MySQLClientConfig mysqlClientConfig = 1;
}

message MySQLClientConfig {
    // Like localhost:3306.
    string addr = 1;
    string database = 2;
    string userName = 3;
}

message DBMethodOTEL {
    OTELExporterConfig otelExporterConfig = 1;
}

message OTELExporterConfig {
    string endpointURL = 1;
}

message AnomalyDetection {
    map<string, google.protobuf.Any> data = 1;
}

message MapperInfo {
    string name = 1;
    string version = 2;
    string api_version = 3;
    string protocol = 4;
    // The mapper's gRPC Unix domain socket.
    bytes address = 5;
    string state = 6;
}

message ReportDeviceStatusRequest {
    string deviceName = 1;
    DeviceStatus reportedDevice = 2;
    string deviceNamespace = 3;
}

message ReportDeviceStatesRequest {
    string deviceName = 1;
    string deviceNamespace = 2;
    string state = 3;
}

message DeviceStatus {
    repeated Twin twins = 1;
    bool reportToCloud = 2;
    int64 reportCycle = 3;
}

// The digital model of a device property.
message Twin {
    string propertyName = 1;
    // The desired value as the mapper last applied it.
    TwinProperty observedDesired = 2;
    // The value read from the device.
    TwinProperty reported = 3;
}

message TwinProperty {
    string value = 1;
    map<string, string> metadata = 2;
}

message ReportDeviceStatusResponse {}

message ReportDeviceStatesResponse {}

message RegisterDeviceRequest {
    Device device = 1;
}

message RegisterDeviceResponse {
    string deviceName = 1;
    string deviceNamespace = 2;
}

message CreateDeviceModelRequest {
    DeviceModel model = 1;
}

message CreateDeviceModelResponse {
    string deviceModelName = 1;
    string deviceModelNamespace = 2;
}

message RemoveDeviceRequest {
    string deviceName = 1;
    string deviceNamespace = 2;
}

message RemoveDeviceResponse {}

message RemoveDeviceModelRequest {
    string modelName = 1;
    string modelNamespace = 2;
}

message RemoveDeviceModelResponse {}

message UpdateDeviceRequest {
    Device device = 1;
}

message UpdateDeviceResponse {}

message UpdateDeviceModelRequest {
    DeviceModel model = 1;
}

message UpdateDeviceModelResponse {}

message GetDeviceRequest {
    string deviceName = 1;
    string deviceNamespace = 2;
}

message GetDeviceResponse {
    Device device = 1;
}
`;

/**
 * The Protocol Buffers well-known types `configData` values are packed in: `Any`
 * (`google/protobuf/any.proto`), the scalar wrappers edgecore packs (`wrappers.proto`) and
 * `Struct`, `Value` and `ListValue` (`struct.proto`) for nested values. Names, numbers and types
 * are Google's.
 */
export const WELL_KNOWN_TYPES_PROTO = `
syntax = "proto3";

package google.protobuf;

message Any {
    string type_url = 1;
    bytes value = 2;
}

message DoubleValue { double value = 1; }
message FloatValue { float value = 1; }
message Int64Value { int64 value = 1; }
message UInt64Value { uint64 value = 1; }
message Int32Value { int32 value = 1; }
message UInt32Value { uint32 value = 1; }
message BoolValue { bool value = 1; }
message StringValue { string value = 1; }
message BytesValue { bytes value = 1; }

message Struct {
    map<string, Value> fields = 1;
}

message Value {
    oneof kind {
        NullValue null_value = 1;
        double number_value = 2;
        string string_value = 3;
        bool bool_value = 4;
        Struct struct_value = 5;
        ListValue list_value = 6;
    }
}

enum NullValue {
    NULL_VALUE = 0;
}

message ListValue {
    repeated Value values = 1;
}
`;

pub mod tpe;
